import * as z from "zod";
import { detachInstances, resizeGroup, setDesiredCapacity } from "../aws/autoscaling";
import { readGroup } from "../aws/fleet";
import { ESTIMATE_ASSUMPTIONS } from "../engine/plan";
import { QuarantinePlanSchema } from "../engine/quarantine";
import { readinessSchedule, type WaveLaunch } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const DetachInputSchema = z.object({ executionId: z.string().min(1), plan: QuarantinePlanSchema });

/**
 * Takes the suspects out of their group. When that would leave the group below its floor, capacity is
 * raised first (those replacements start now) and that many in-service suspects leave with a decrement; the
 * rest leave without one, so the group launches their replacements. A suspect in Standby always leaves
 * without a decrement: desired capacity does not count it, so a decrement would make the group terminate a
 * healthy instance (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_EnterStandby.html), and
 * nothing replaces it because it served nothing. Absolute targets and a re-read of the group make a retry
 * harmless. Returns a launch record the wave-readiness check understands.
 */
async function detachStep({ plan }: z.output<typeof DetachInputSchema>) {
  const planned = plan.group;
  if (!planned) throw new Error("a standalone quarantine has nothing to detach");
  const group = await readGroup(planned.groupName);
  const members = new Map(group.instances.map((instance) => [instance.instanceId, instance]));
  const inService = plan.instanceIds.filter((id) => members.get(id)?.lifecycleState === "InService");
  const standby = plan.instanceIds.filter((id) => members.get(id)?.lifecycleState === "Standby");
  const leaving = [...inService, ...standby];
  const raiseBy = Math.min(planned.raiseBy, inService.length);
  const desiredTarget = planned.desiredCapacity + raiseBy;
  let raisedMaxFrom: number | undefined;
  if (raiseBy > 0 && group.desiredCapacity < desiredTarget) {
    if (desiredTarget > group.maxSize) {
      raisedMaxFrom = group.maxSize;
      await resizeGroup({ groupName: group.groupName, maxSize: desiredTarget });
    }
    await setDesiredCapacity(group.groupName, desiredTarget);
  }
  await detachInstances(group.groupName, inService.slice(0, raiseBy), true);
  await detachInstances(group.groupName, [...inService.slice(raiseBy), ...standby], false);
  const launchedAt = now();
  // Replacements of instances detached without a decrement start after draining, then launch and boot.
  const readySeconds =
    planned.drainSeconds + ESTIMATE_ASSUMPTIONS.launchSeconds + ESTIMATE_ASSUMPTIONS.bootSeconds;
  const launch: WaveLaunch = {
    launchedAt: launchedAt.toISOString(),
    deadline: new Date(
      launchedAt.getTime() + (planned.drainSeconds + planned.policy.readiness.timeoutSeconds) * 1000,
    ).toISOString(),
    baselineIds: group.instances.map((instance) => instance.instanceId),
    launchCount: inService.length,
    desiredBefore: group.desiredCapacity,
    desiredAfter: planned.desiredCapacity,
    nextCheckSeconds: Math.min(
      readinessSchedule.first(readySeconds),
      planned.policy.readiness.timeoutSeconds,
    ),
  };
  logger.info("suspects detached", {
    group: group.groupName,
    withDecrement: inService.slice(0, raiseBy),
    withoutDecrement: [...inService.slice(raiseBy), ...standby],
    raisedMaxFrom,
  });
  return { at: launchedAt.toISOString(), launch, readySeconds, raisedMaxFrom, detached: leaving };
}

export const handler = phoenixHandler(DetachInputSchema, detachStep);
