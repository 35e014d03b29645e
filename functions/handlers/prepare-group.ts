import { suspendProcesses, updateGroup } from "../aws/autoscaling";
import { RolloutPolicySchema } from "../engine/policy";
import { type Prepared, ReplacementPlanSchema, StepSchema } from "../engine/schemas";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const PrepareInputSchema = StepSchema.extend({ plan: ReplacementPlanSchema, policy: RolloutPolicySchema });

/**
 * Step 2: pin the target as an explicit launch template version, make room for the surge (and for instances
 * retired before their wave launches), and suspend the processes that would fight the rollout. Absolute
 * values only, so a retried Prepare does the same thing again.
 */
async function prepareStep({
  groupName,
  plan,
  policy,
}: typeof PrepareInputSchema._output): Promise<Prepared> {
  const suspendedByPhoenix = policy.suspendProcesses.filter(
    (process) => !plan.previous.suspendedProcesses.includes(process),
  );
  await updateGroup({
    groupName,
    launchTemplate: { launchTemplateId: plan.target.launchTemplateId, version: plan.target.version },
    minSize: plan.capacity.minSizeNeeded,
    maxSize: plan.capacity.maxSizeNeeded,
  });
  await suspendProcesses(groupName, suspendedByPhoenix);
  logger.info("prepared group", {
    pinnedVersion: plan.target.version,
    maxSize: plan.capacity.maxSizeNeeded,
    minSize: plan.capacity.minSizeNeeded,
    suspendedByPhoenix,
  });
  return {
    preparedAt: now().toISOString(),
    pinnedVersion: plan.target.version,
    maxSize: plan.capacity.maxSizeNeeded,
    minSize: plan.capacity.minSizeNeeded,
    suspendedByPhoenix,
  };
}

export const handler = phoenixHandler(PrepareInputSchema, prepareStep);
