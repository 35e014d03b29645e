import * as z from "zod";
import { terminateInstanceInGroup } from "../aws/autoscaling";
import { describeInstances } from "../aws/ec2";
import { describeHealthAcross, registerTargets } from "../aws/elbv2";
import { readGroup } from "../aws/fleet";
import {
  FailureSchema,
  ReplacementTargetSchema,
  StepSchema,
  WaveLaunchSchema,
  WaveSchema,
  WaveStartSchema,
} from "../engine/schemas";
import {
  chooseRollbackTerminations,
  explainWaveFailure,
  identifyNewInstances,
  liveMembers,
  servingMembers,
} from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

// The rollback step receives the whole wave state: whichever steps ran before the failure left their
// results, the others are absent.
const RollbackWaveInputSchema = StepSchema.extend({
  wave: WaveSchema,
  target: ReplacementTargetSchema,
  targetGroupArns: z.array(z.string()),
  /** Healthy in-service instances the group must keep. */
  floor: z.number().int().min(0),
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
  failure: FailureSchema.optional(),
});

/**
 * Rolls back one failed wave: puts the wave's old instances that are still alive back into every target
 * group and terminates the instances it launched (decrementing, never a quarantined one), keeping serving
 * ones the floor still needs; the rollback's last step settles capacity once that is safe. The group's settings
 * are restored afterwards by RestoreGroup, for the whole execution.
 */
async function rollbackWaveStep(input: typeof RollbackWaveInputSchema._output) {
  const { groupName, wave, target, targetGroupArns } = input;
  const reasons = explainWaveFailure({ waveIndex: wave.index, ...input });
  const group = await readGroup(groupName);
  const baselineIds = input.launch?.baselineIds ?? input.start?.baselineIds;
  const launchCount = input.launch?.launchCount ?? input.start?.launchCount ?? wave.launchCount;
  const launched = baselineIds
    ? identifyNewInstances(group, { baselineIds, launchCount }, target).map((i) => i.instanceId)
    : [];
  const details = await describeInstances([...launched, ...wave.instanceIds]);
  // Old instances first, so they are back in service as early as possible.
  const { live: reregister } = liveMembers(wave.instanceIds, group, details);
  for (const arn of targetGroupArns) await registerTargets(arn, reregister);
  const { live: liveLaunched } = liveMembers(launched, group, details);
  const serving = servingMembers(
    group,
    await describeHealthAcross(
      targetGroupArns,
      group.instances.map((i) => i.instanceId),
    ),
  );
  const { terminate, keep } = chooseRollbackTerminations(liveLaunched, serving, input.floor);
  for (const instanceId of terminate) await terminateInstanceInGroup(instanceId, true);
  logger.warn("wave rolled back", {
    wave: wave.index,
    reasons,
    terminated: terminate,
    keptForTheFloor: keep,
    reregistered: reregister,
  });
  return {
    terminated: terminate,
    keptForTheFloor: keep,
    reregistered: reregister,
    reasons,
    cause: reasons.join("\n"),
    rolledBackAt: now().toISOString(),
  };
}

export const handler = phoenixHandler(RollbackWaveInputSchema, rollbackWaveStep);
