import type * as z from "zod";
import { resizeGroup, terminateInstanceInGroup } from "../aws/autoscaling";
import { describeInstances } from "../aws/ec2";
import { describeHealthAcross } from "../aws/elbv2";
import { readGroup } from "../aws/fleet";
import { BelowFloorError } from "../engine/errors";
import { settleCapacity } from "../engine/restore";
import { ReplacementPlanSchema, StepSchema } from "../engine/schemas";
import { liveMembers, servingMembers } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const SettleInputSchema = StepSchema.extend({ plan: ReplacementPlanSchema });

/**
 * The last step of a rollback: desired capacity, MinSize and MaxSize exactly as before. Lowering desired
 * capacity lets Auto Scaling choose what to terminate, so while that could cost the floor this step fails
 * with BelowFloorError and the state machine tries again a little later.
 */
async function settleStep({ groupName, plan }: z.output<typeof SettleInputSchema>) {
  const group = await readGroup(groupName);
  const serving = servingMembers(
    group,
    await describeHealthAcross(
      group.targetGroupArns,
      group.instances.map((instance) => instance.instanceId),
    ),
  );
  const servingSet = new Set(serving);
  const plannedAt = Date.parse(plan.plannedAt);
  // Members launched since the plan (by the rollout, or by Auto Scaling replacing one of them) that serve
  // nothing.
  const candidates = group.instances
    .filter(
      (instance) =>
        !servingSet.has(instance.instanceId) &&
        (instance.lifecycleState.startsWith("Pending") || instance.lifecycleState === "InService"),
    )
    .map((instance) => instance.instanceId);
  const details = await describeInstances(candidates);
  const launchedSince = details
    .filter((detail) => Date.parse(detail.launchTime ?? "") >= plannedAt)
    .map((detail) => detail.instanceId)
    .sort();
  const { live } = liveMembers(launchedSince, group, details);
  const settlement = settleCapacity({
    previous: plan.previous,
    current: group,
    serving: serving.length,
    floor: plan.capacity.floor,
    strays: live,
  });
  // Terminations decrement desired capacity: a retry recomputes the surplus from what is left.
  for (const instanceId of settlement.terminate) await terminateInstanceInGroup(instanceId, true);
  if (settlement.action === "wait")
    throw new BelowFloorError(settlement.reason, { groupName, surplus: settlement.surplus });
  await resizeGroup({ groupName, ...settlement.update });
  logger.info("capacity settled", {
    ...settlement.update,
    surplus: settlement.surplus,
    terminated: settlement.terminate,
  });
  return {
    settledAt: now().toISOString(),
    ...settlement.update,
    surplus: settlement.surplus,
    terminated: settlement.terminate,
  };
}

export const handler = phoenixHandler(SettleInputSchema, settleStep);
