// Finishing what a replacement left out of service: instances tagged phoenix:retiring that are in no group
// and whose execution no longer runs. The sweep runs this every time, for every execution; the janitor
// runs the same for the one execution that was stopped.
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { groupsOfInstances } from "../../aws/autoscaling";
import { findInstancesWithTag, findTaggedInstances } from "../../aws/ec2";
import { terminateInstances } from "../../aws/evidence";
import { describeExecutionIfAny } from "../../aws/stepfunctions";
import { batches, PER_CALL } from "../../engine/batches";
import { type LeftoverPlan, planLeftovers } from "../../engine/leftovers";
import { RETIRING_TAG } from "../../engine/wave";
import { logger, metrics } from "../../runtime/observability";

/**
 * Finds retiring instances (all of them, or those of one execution whose status is known), decides with
 * planLeftovers and, unless a dry run, terminates them (1000 per call). Publishes LeftoverInstances, the
 * number found to terminate: anything but zero means a replacement did not finish its own work, and the
 * stack's alarm says so.
 */
export async function reapLeftovers(args: {
  dryRun: boolean;
  /** Only this execution's, whose status the caller already knows (the janitor). */
  execution?: { executionArn: string; status: string };
}): Promise<LeftoverPlan & { terminated: string[] }> {
  const retiring = args.execution
    ? await findTaggedInstances(RETIRING_TAG, args.execution.executionArn)
    : await findInstancesWithTag(RETIRING_TAG);
  if (retiring.length === 0) return { terminate: [], left: [], terminated: [] };
  const memberships = await groupsOfInstances(retiring.map((instance) => instance.instanceId));
  const memberOf = new Map([...memberships].map(([instanceId, { groupName }]) => [instanceId, groupName]));
  const statuses = new Map<string, string | undefined>();
  if (args.execution) statuses.set(args.execution.executionArn, args.execution.status);
  for (const arn of new Set(retiring.map((instance) => instance.tags[RETIRING_TAG] ?? ""))) {
    if (statuses.has(arn) || !arn.startsWith("arn:aws:states:")) continue;
    // Step Functions forgets executions 90 days after they close: then nothing runs to reap them. A status
    // that cannot be read now leaves the instances for the next sweep (fail closed).
    try {
      statuses.set(arn, (await describeExecutionIfAny(arn))?.status ?? "FORGOTTEN");
    } catch (error) {
      logger.warn("execution status unknown", { executionArn: arn, error: (error as Error).name });
    }
  }
  const plan = planLeftovers(retiring, memberOf, statuses);
  metrics.addMetric("LeftoverInstances", MetricUnit.Count, plan.terminate.length);
  if (plan.terminate.length > 0)
    logger.warn("retired instances left running", { terminate: plan.terminate, dryRun: args.dryRun });
  if (args.dryRun) return { ...plan, terminated: [] };
  for (const chunk of batches(plan.terminate, PER_CALL.terminateInstances)) await terminateInstances(chunk);
  return { ...plan, terminated: plan.terminate };
}
