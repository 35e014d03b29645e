import * as z from "zod";
import { acquireGroupLock, releaseGroupLock } from "../aws/lock";
import { GroupSettingsSchema, StepSchema } from "../engine/schemas";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const LockInputSchema = z.discriminatedUnion("action", [
  StepSchema.extend({
    action: z.literal("acquire"),
    leaseSeconds: z.number().int().min(60).max(86_400),
    /** Kept with the lock, so an execution stopped from outside can still be undone (reclaimGroup). */
    previous: GroupSettingsSchema.optional(),
  }),
  StepSchema.extend({ action: z.literal("release") }),
]);

/**
 * One replacement per group at a time. "acquire" takes the group's lock (a conditional write that fails with
 * ReplacementInProgressError while another execution holds an unexpired lease); "release" gives it back,
 * and is run on every exit path of the state machine.
 */
async function lockStep(input: z.output<typeof LockInputSchema>) {
  const { executionId: owner, groupName } = input;
  const tableName = config().PHOENIX_TABLE;
  if (input.action === "acquire") {
    const lock = await acquireGroupLock({
      tableName,
      groupName,
      owner,
      now: now(),
      leaseSeconds: input.leaseSeconds,
      previous: input.previous,
    });
    logger.info("group lock acquired", { expiresAt: lock.expiresAt });
    return { held: true, ...lock };
  }
  const released = await releaseGroupLock({ tableName, groupName, owner });
  logger.info("group lock released", { released });
  return { held: false, released };
}

export const handler = phoenixHandler(LockInputSchema, lockStep);
