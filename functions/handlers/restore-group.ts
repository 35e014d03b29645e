import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { resumeProcesses, updateGroup } from "../aws/autoscaling";
import { publishEvent } from "../aws/events";
import { readGroupWithInstances } from "../aws/fleet";
import { restorationFor } from "../engine/restore";
import { FailureSchema, ReplacementPlanSchema, StepSchema } from "../engine/schemas";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger, metrics } from "../runtime/observability";

const RestoreGroupInputSchema = StepSchema.extend({ plan: ReplacementPlanSchema, failure: FailureSchema });

/**
 * After a failure: restores the group's exact previous launch template version, sizes, desired capacity and
 * the processes Phoenix suspended, then emits "Replacement Rolled Back" with the reasons.
 */
async function restoreGroupStep({
  executionId,
  groupName,
  plan,
  failure,
}: typeof RestoreGroupInputSchema._output) {
  // With its instances' tags: a quarantined member keeps the processes that protect it suspended.
  const current = await readGroupWithInstances(groupName);
  const restoration = restorationFor(plan.previous, current, "rolled-back");
  await updateGroup({ groupName, ...restoration.update });
  await resumeProcesses(groupName, restoration.resumeProcesses);
  const cause = failure.Cause ?? failure.Error;
  await publishEvent(config().PHOENIX_EVENT_BUS, "Replacement Rolled Back", {
    executionId,
    groupName,
    reason: plan.reason,
    targetVersion: plan.target.version,
    error: failure.Error,
    reasons: cause.split("\n"),
    restored: restoration,
  });
  metrics.addDimension("groupName", groupName);
  metrics.addMetric("ReplacementsRolledBack", MetricUnit.Count, 1);
  logger.warn("replacement rolled back", { error: failure.Error, cause, restoration });
  return { restoredAt: now().toISOString(), error: failure.Error, cause, restoration };
}

export const handler = phoenixHandler(RestoreGroupInputSchema, restoreGroupStep, { publishesMetrics: true });
