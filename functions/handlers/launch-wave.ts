import * as z from "zod";
import { resizeGroup, setDesiredCapacity } from "../aws/autoscaling";
import { readGroup } from "../aws/fleet";
import { CapacityLimitError } from "../engine/errors";
import { RolloutPolicySchema } from "../engine/policy";
import { StepSchema, WaveSchema, WaveStartSchema } from "../engine/schemas";
import { readinessSchedule, type WaveLaunch } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const LaunchWaveInputSchema = StepSchema.extend({
  wave: WaveSchema,
  start: WaveStartSchema,
  policy: RolloutPolicySchema,
  /** The original MaxSize plus the surge: the most a wave may ever raise MaxSize to. */
  maxSizeLimit: z.number().int().min(0),
  /** Estimated seconds until new instances are healthy: the first readiness check waits this long. */
  readySeconds: z.number().min(0),
  /** Present when the wave retired instances before launching: desired capacity right after that. */
  retiredFirst: z.object({ desiredAfter: z.number().int().min(0) }).optional(),
});

/**
 * Launches a wave by raising desired capacity by the instances of the wave still there at its start. Fails
 * closed with CapacityLimitError rather than exceed the original MaxSize plus the surge.
 */
async function launchWaveStep(input: typeof LaunchWaveInputSchema._output): Promise<WaveLaunch> {
  const { groupName, wave, start, policy } = input;
  const group = await readGroup(groupName);
  // Desired capacity as it was just before this step (read at wave start, or after retiring first) plus
  // the launch: a scaling policy that acted while the first instances drained keeps its change. The target
  // is absolute, so a retry cannot launch twice.
  const desiredAfter = (input.retiredFirst?.desiredAfter ?? start.desiredBefore) + start.launchCount;
  if (desiredAfter > group.maxSize) {
    // Fail closed beyond the original MaxSize plus the surge; below it, make room (the group grew meanwhile).
    if (desiredAfter > input.maxSizeLimit) {
      throw new CapacityLimitError(
        `Wave ${wave.index} needs desired capacity ${desiredAfter} but "${groupName}" may grow to at most ${input.maxSizeLimit}`,
        { groupName, desiredAfter, maxSize: group.maxSize, maxSizeLimit: input.maxSizeLimit },
      );
    }
    await resizeGroup({ groupName, maxSize: desiredAfter });
  }
  if (group.desiredCapacity < desiredAfter) await setDesiredCapacity(groupName, desiredAfter);
  const launchedAt = now();
  logger.info("wave launched", { wave: wave.index, desiredBefore: group.desiredCapacity, desiredAfter });
  return {
    launchedAt: launchedAt.toISOString(),
    deadline: new Date(launchedAt.getTime() + policy.readiness.timeoutSeconds * 1000).toISOString(),
    baselineIds: start.baselineIds,
    launchCount: start.launchCount,
    desiredBefore: group.desiredCapacity,
    desiredAfter,
    // Nothing left to launch (every instance of the wave went another way): check at once.
    nextCheckSeconds:
      start.launchCount === 0
        ? 0
        : Math.min(readinessSchedule.first(input.readySeconds), policy.readiness.timeoutSeconds),
  };
}

export const handler = phoenixHandler(LaunchWaveInputSchema, launchWaveStep);
