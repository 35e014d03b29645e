import * as z from "zod";
import { describeHealthAcross } from "../aws/elbv2";
import { readGroup } from "../aws/fleet";
import { RolloutPolicySchema } from "../engine/policy";
import { ReplacementTargetSchema, StepSchema, WaveLaunchSchema } from "../engine/schemas";
import { assessReadiness, identifyNewInstances, type ReadinessVerdict } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const CheckWaveInputSchema = StepSchema.extend({
  waveIndex: z.number().int().min(0),
  launch: WaveLaunchSchema,
  target: ReplacementTargetSchema,
  policy: RolloutPolicySchema,
  /** The plan's estimate of seconds from launch to healthy. */
  readySeconds: z.number().min(0),
});

/** One readiness check: are the wave's new instances InService, Healthy and healthy in every target group? */
async function checkWaveStep(input: typeof CheckWaveInputSchema._output): Promise<ReadinessVerdict> {
  const { groupName, launch, target, policy } = input;
  const group = await readGroup(groupName);
  const candidates = identifyNewInstances(group, launch, target).map((instance) => instance.instanceId);
  const targetHealth = await describeHealthAcross(group.targetGroupArns, candidates);
  const verdict = assessReadiness({
    group,
    launch,
    target,
    targetHealth,
    policy,
    readySeconds: input.readySeconds,
    now: now(),
  });
  logger.info("wave readiness", {
    wave: input.waveIndex,
    ready: verdict.ready,
    timedOut: verdict.timedOut,
    waiting: verdict.waiting,
  });
  return verdict;
}

export const handler = phoenixHandler(CheckWaveInputSchema, checkWaveStep);
