import { z } from "zod";
import { describeHealthAcross } from "../aws/elbv2";
import { InstanceIdSchema, RolloutPolicySchema } from "../engine/policy";
import { StepSchema } from "../engine/schemas";
import { assessDrain, type DrainProgress, nextCheckDelay } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const CheckDrainedInputSchema = StepSchema.extend({
  instanceIds: z.array(InstanceIdSchema),
  targetGroupArns: z.array(z.string()),
  drain: z.object({ startedAt: z.string(), deadline: z.string() }),
  policy: RolloutPolicySchema,
});

/** Checks whether deregistered instances finished draining from every target group. */
async function checkDrainedStep(input: typeof CheckDrainedInputSchema._output): Promise<DrainProgress> {
  const { instanceIds, targetGroupArns, drain, policy } = input;
  const health = await describeHealthAcross(targetGroupArns, instanceIds);
  const { drained, draining } = assessDrain(instanceIds, health);
  const at = now();
  const timedOut = !drained && at.getTime() >= Date.parse(drain.deadline);
  logger.info("drain check", { drained, timedOut, draining });
  return {
    startedAt: drain.startedAt,
    deadline: drain.deadline,
    drained,
    timedOut,
    draining,
    nextCheckSeconds: nextCheckDelay(policy.readiness.pollSeconds, drain.deadline, at),
  };
}

export const handler = phoenixHandler(CheckDrainedInputSchema, checkDrainedStep);
