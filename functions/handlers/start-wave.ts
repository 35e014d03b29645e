import { readGroup } from "../aws/fleet";
import { StepSchema, WaveSchema, type WaveStart } from "../engine/schemas";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const StartWaveInputSchema = StepSchema.extend({ wave: WaveSchema });

/**
 * Read-only start of a wave: records which instances exist before it launches anything, so the wave's new
 * instances can be told apart later, and so a retried launch never launches twice.
 */
async function startWaveStep({ groupName, wave }: typeof StartWaveInputSchema._output): Promise<WaveStart> {
  const group = await readGroup(groupName);
  logger.info("wave started", {
    wave: wave.index,
    replaces: wave.instanceIds,
    retireFirst: wave.retireFirst,
  });
  return {
    startedAt: now().toISOString(),
    baselineIds: group.instances.map((instance) => instance.instanceId),
    desiredBefore: group.desiredCapacity,
  };
}

export const handler = phoenixHandler(StartWaveInputSchema, startWaveStep);
