import * as z from "zod";
import { findTaggedInstances } from "../aws/ec2";
import { terminateInstances } from "../aws/evidence";
import { readGroup } from "../aws/fleet";
import { batches, PER_CALL } from "../engine/batches";
import { StepSchema } from "../engine/schemas";
import { nextCheckDelay, planReap, RETIRING_TAG, reapDeadline, secondsUntilDrained } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const ReapInputSchema = StepSchema.extend({
  /** The longest deregistration delay of the group's target groups. */
  drainSeconds: z.number().int().min(0),
  pollSeconds: z.number().int().min(1),
  /** The previous check ({} before the first). */
  reap: z
    .object({ deadline: z.iso.datetime({ offset: true }).optional() })
    .loose()
    .optional(),
});

/**
 * Terminates the instances this execution took out of service once Auto Scaling has detached them (their
 * target groups drained them), up to 1000 per call; says which are still draining and when to look again.
 * Past the deadline it stops waiting and names them: they are out of the group and out of service, and a
 * later run terminates them.
 */
async function reapStep({
  executionId,
  groupName,
  drainSeconds,
  pollSeconds,
  reap,
}: z.output<typeof ReapInputSchema>) {
  const at = now();
  const deadline = reap?.deadline ?? reapDeadline(at, drainSeconds, pollSeconds);
  const [group, retiring] = [
    await readGroup(groupName),
    await findTaggedInstances(RETIRING_TAG, executionId),
  ];
  const { terminate, waiting } = planReap(retiring, group);
  const stillWaiting = new Set(waiting);
  const drainedIn = secondsUntilDrained(
    retiring.filter((instance) => stillWaiting.has(instance.instanceId)),
    drainSeconds,
    at,
  );
  for (const chunk of batches(terminate, PER_CALL.terminateInstances)) await terminateInstances(chunk);
  const done = waiting.length === 0;
  const timedOut = !done && at.getTime() >= Date.parse(deadline);
  logger.info("reaped retired instances", { terminated: terminate, waiting, timedOut });
  return {
    done,
    timedOut,
    terminated: terminate,
    waiting,
    deadline,
    checkedAt: at.toISOString(),
    // Nothing more drains before the last retirement's deregistration delay is out: look again then, and
    // poll after that.
    nextCheckSeconds: done
      ? 0
      : nextCheckDelay(drainedIn !== undefined && drainedIn > 1 ? drainedIn : pollSeconds, deadline, at),
  };
}

export const handler = phoenixHandler(ReapInputSchema, reapStep);
