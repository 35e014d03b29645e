import { z } from "zod";
import { deregisterTargets } from "../aws/elbv2";
import { InstanceIdSchema, RolloutPolicySchema } from "../engine/policy";
import { StepSchema } from "../engine/schemas";
import { type DrainProgress, drainDeadline } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const DrainInputSchema = StepSchema.extend({
  instanceIds: z.array(InstanceIdSchema),
  targetGroupArns: z.array(z.string()),
  /** The longest deregistration delay of the group's target groups. */
  drainSeconds: z.number().int().min(0),
  policy: RolloutPolicySchema,
});

/**
 * Shifts traffic off old instances: deregisters them from every target group so the load balancer stops
 * sending new requests and lets open ones finish within the deregistration delay.
 */
async function drainStep({
  instanceIds,
  targetGroupArns,
  drainSeconds,
  policy,
}: typeof DrainInputSchema._output): Promise<DrainProgress> {
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
