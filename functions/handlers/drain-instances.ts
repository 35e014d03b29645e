import { z } from "zod";
import { deregisterTargets, describeHealthAcross } from "../aws/elbv2";
import { readGroup } from "../aws/fleet";
import { BelowFloorError } from "../engine/errors";
import { InstanceIdSchema, RolloutPolicySchema } from "../engine/policy";
import { StepSchema } from "../engine/schemas";
import { type DrainProgress, drainDeadline, floorVerdict, servingMembers } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const DrainInputSchema = StepSchema.extend({
  instanceIds: z.array(InstanceIdSchema),
  targetGroupArns: z.array(z.string()),
  /** The longest deregistration delay of the group's target groups. */
  drainSeconds: z.number().int().min(0),
  policy: RolloutPolicySchema,
  /** Healthy in-service instances the group must keep. */
  floor: z.number().int().min(0),
});

/**
 * Shifts traffic off old instances, never below the floor (BelowFloorError, which the state machine
 * retries while capacity comes back and otherwise rolls back): deregisters them from every target group so the load balancer stops
 * sending new requests and lets open ones finish within the deregistration delay.
 */
async function drainStep({
  groupName,
  instanceIds,
  targetGroupArns,
  drainSeconds,
  policy,
  floor,
}: typeof DrainInputSchema._output): Promise<DrainProgress> {
  // The plan kept the floor with the group as it was; check it again with the group as it is now.
  const group = await readGroup(groupName);
  const serving = servingMembers(
    group,
    await describeHealthAcross(
      targetGroupArns,
      group.instances.map((instance) => instance.instanceId),
    ),
  );
  const verdict = floorVerdict(serving, instanceIds, floor);
  if (!verdict.allowed) throw new BelowFloorError(verdict.reason, { groupName, instanceIds, floor });
  for (const arn of targetGroupArns) await deregisterTargets(arn, instanceIds);
  const startedAt = now();
  const waitSeconds = targetGroupArns.length > 0 && instanceIds.length > 0 ? drainSeconds : 0;
  logger.info("draining", { instanceIds, targetGroups: targetGroupArns.length, waitSeconds });
  return {
    startedAt: startedAt.toISOString(),
    deadline: drainDeadline(startedAt, waitSeconds, policy.readiness.pollSeconds),
    drained: waitSeconds === 0,
    timedOut: false,
    draining: [],
    nextCheckSeconds: waitSeconds,
  };
}

export const handler = phoenixHandler(DrainInputSchema, drainStep);
