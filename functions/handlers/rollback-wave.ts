import { z } from "zod";
import { terminateInstanceInGroup } from "../aws/autoscaling";
import { describeInstances } from "../aws/ec2";
import { registerTargets } from "../aws/elbv2";
import { readGroup } from "../aws/fleet";
import {
  FailureSchema,
  ReplacementTargetSchema,
  StepSchema,
  WaveLaunchSchema,
  WaveSchema,
  WaveStartSchema,
} from "../engine/schemas";
import { explainWaveFailure, identifyNewInstances, liveMembers } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

// The rollback step receives the whole wave state: whichever steps ran before the failure left their
// results, the others are absent.
const RollbackWaveInputSchema = StepSchema.extend({
  wave: WaveSchema,
  target: ReplacementTargetSchema,
  targetGroupArns: z.array(z.string()),
  start: WaveStartSchema.optional(),
  launch: WaveLaunchSchema.optional(),
  readiness: z
    .object({ timedOut: z.boolean(), waiting: z.array(z.string()) })
    .partial()
    .optional(),
  verdict: z
    .object({ passed: z.boolean(), reasons: z.array(z.string()) })
    .partial()
    .optional(),
  drain: z
    .object({ timedOut: z.boolean(), draining: z.array(z.string()) })
    .partial()
    .optional(),
  failure: FailureSchema.optional(),
});

/**
 * Rolls back one failed wave: terminates the instances it launched (decrementing, never a quarantined one)
 * and puts the wave's old instances that are still alive back into every target group. The group's settings
 * are restored afterwards by RestoreGroup, for the whole execution.
 */
async function rollbackWaveStep(input: typeof RollbackWaveInputSchema._output) {
  const { groupName, wave, target, targetGroupArns } = input;
  const reasons = explainWaveFailure({ waveIndex: wave.index, ...input });
  const group = await readGroup(groupName);
  const baselineIds = input.launch?.baselineIds ?? input.start?.baselineIds;
  const launched = baselineIds
    ? identifyNewInstances(group, { baselineIds, launchCount: wave.launchCount }, target).map(
        (i) => i.instanceId,
      )
    : [];
  const details = await describeInstances([...launched, ...wave.instanceIds]);
  const { live: terminate } = liveMembers(launched, group, details);
  for (const instanceId of terminate) await terminateInstanceInGroup(instanceId, true);
  const { live: reregister } = liveMembers(wave.instanceIds, group, details);
  for (const arn of targetGroupArns) await registerTargets(arn, reregister);
  logger.warn("wave rolled back", {
    wave: wave.index,
    reasons,
    terminated: terminate,
    reregistered: reregister,
  });
  return {
    terminated: terminate,
    reregistered: reregister,
    reasons,
    cause: reasons.join("\n"),
    rolledBackAt: now().toISOString(),
  };
}

export const handler = phoenixHandler(RollbackWaveInputSchema, rollbackWaveStep);
