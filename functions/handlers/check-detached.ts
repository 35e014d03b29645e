import * as z from "zod";
import { resizeGroup, resumeProcesses } from "../aws/autoscaling";
import { readGroup } from "../aws/fleet";
import { QUARANTINE_SUSPENDED_PROCESSES, QuarantinePlanSchema } from "../engine/quarantine";
import { nextCheckDelay } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const CheckDetachedInputSchema = z.object({
  executionId: z.string().min(1),
  plan: QuarantinePlanSchema,
  detach: z.object({ at: z.string(), raisedMaxFrom: z.number().int().optional() }),
});

/**
 * Waits until the suspects have left the group (detaching waits for load-balancer draining); then resumes the
 * processes preservation paused and puts MaxSize back, since the group can no longer touch them.
 */
async function checkDetachedStep({ plan, detach }: z.output<typeof CheckDetachedInputSchema>) {
  const planned = plan.group;
  if (!planned) throw new Error("a standalone quarantine has nothing to detach");
  // The processes preservation paused: those the group did not have paused before (even if preservation
  // failed part-way, resuming one it never paused changes nothing).
  const suspendedByPhoenix = QUARANTINE_SUSPENDED_PROCESSES.filter(
    (process) => !planned.suspendedBefore.includes(process),
  );
  const group = await readGroup(planned.groupName);
  const still = group.instances
    .filter((instance) => plan.instanceIds.includes(instance.instanceId))
    .map((instance) => instance.instanceId);
  const at = now();
  const deadline = new Date(Date.parse(detach.at) + (planned.drainSeconds + 600) * 1000).toISOString();
  if (still.length === 0) {
    await resumeProcesses(group.groupName, suspendedByPhoenix);
    if (
      detach.raisedMaxFrom !== undefined &&
      group.desiredCapacity <= detach.raisedMaxFrom &&
      group.maxSize > detach.raisedMaxFrom
    ) {
      await resizeGroup({ groupName: group.groupName, maxSize: detach.raisedMaxFrom });
    }
    logger.info("suspects out of the group", { group: group.groupName });
  }
  return {
    detached: still.length === 0,
    stillInGroup: still,
    timedOut: still.length > 0 && at.getTime() >= Date.parse(deadline),
    nextCheckSeconds: nextCheckDelay(planned.policy.readiness.pollSeconds, deadline, at),
    checkedAt: at.toISOString(),
  };
}

export const handler = phoenixHandler(CheckDetachedInputSchema, checkDetachedStep);
