import * as z from "zod";
import { findTaggedInstances } from "../aws/ec2";
import { describeHealthAcross } from "../aws/elbv2";
import { terminateInstances } from "../aws/evidence";
import { readGroup } from "../aws/fleet";
import { batches, PER_CALL } from "../engine/batches";
import { RolloutPolicySchema } from "../engine/policy";
import { ReplacementTargetSchema, StepSchema, WaveLaunchSchema } from "../engine/schemas";
import {
  assessReadiness,
  identifyNewInstances,
  planReap,
  RETIRING_TAG,
  type ReadinessVerdict,
} from "../engine/wave";
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

/**
 * One readiness check: are the wave's new instances InService, Healthy and healthy in every target group?
 * Old instances this execution took out of service before the wave launched drain meanwhile; each check
 * terminates those that have left the group, so none runs on through a long readiness wait.
 */
async function checkWaveStep(input: typeof CheckWaveInputSchema._output): Promise<ReadinessVerdict> {
  const { groupName, launch, target, policy } = input;
  const group = await readGroup(groupName);
  const { terminate: drained } = planReap(await findTaggedInstances(RETIRING_TAG, input.executionId), group);
  for (const chunk of batches(drained, PER_CALL.terminateInstances)) await terminateInstances(chunk);
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
    terminatedDrained: drained,
  });
  return verdict;
}

export const handler = phoenixHandler(CheckWaveInputSchema, checkWaveStep);
