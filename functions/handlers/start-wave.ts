import * as z from "zod";
import { describeInstances } from "../aws/ec2";
import { readGroup } from "../aws/fleet";
import { renewGroupLock } from "../aws/lock";
import { StepSchema, WaveSchema, type WaveStart } from "../engine/schemas";
import { waveAtStart } from "../engine/wave";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const StartWaveInputSchema = StepSchema.extend({ wave: WaveSchema, leaseSeconds: z.number().int().min(60) });

/**
 * Start of a wave, before anything changes: renews the group's lock for one more wave (failing if this
 * execution lost it) and records which instances exist, so the wave's new instances can be told apart later
 * and a retried launch never launches twice, and which of the wave's instances are still there to replace.
 */
async function startWaveStep({
  executionId,
  groupName,
  wave,
  leaseSeconds,
}: typeof StartWaveInputSchema._output): Promise<WaveStart> {
  await renewGroupLock({
    tableName: config().PHOENIX_TABLE,
    groupName,
    owner: executionId,
    now: now(),
    leaseSeconds,
  });
  const group = await readGroup(groupName);
  const standing = waveAtStart(wave, group, await describeInstances(wave.instanceIds));
  logger.info("wave started", {
    wave: wave.index,
    replaces: standing.liveIds,
    gone: standing.gone,
    retireFirst: wave.retireFirst,
  });
  return {
    startedAt: now().toISOString(),
    baselineIds: group.instances.map((instance) => instance.instanceId),
    desiredBefore: group.desiredCapacity,
    launchCount: standing.launchCount,
    gone: standing.gone,
  };
}

export const handler = phoenixHandler(StartWaveInputSchema, startWaveStep);
