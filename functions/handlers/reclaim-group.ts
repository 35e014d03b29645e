import * as z from "zod";
import { resumeProcesses, updateGroup } from "../aws/autoscaling";
import { publishEvent } from "../aws/events";
import { readGroup } from "../aws/fleet";
import { readGroupLock, releaseGroupLock } from "../aws/lock";
import { describeExecution } from "../aws/stepfunctions";
import { InvalidInputError } from "../engine/errors";
import { GroupNameSchema } from "../engine/policy";
import { restorationFor } from "../engine/restore";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";
import { stateMachineArn } from "../runtime/stack";

/** Step Functions' own event when an execution stops other than by succeeding. */
const StatusChangeSchema = z
  .object({
    "detail-type": z.literal("Step Functions Execution Status Change"),
    detail: z
      .object({
        executionArn: z.string().startsWith("arn:"),
        stateMachineArn: z.string().startsWith("arn:"),
        status: z.enum(["ABORTED", "TIMED_OUT", "FAILED"]),
        input: z.string().nullish(),
      })
      .loose(),
  })
  .loose();

/** An operator's direct request (phoenix CLI or `osls invoke`), with a dry run. */
const ReclaimRequestSchema = z
  .object({
    executionArn: z.string().startsWith("arn:aws:states:", "not a Step Functions execution ARN"),
    groupName: GroupNameSchema,
    dryRun: z.boolean().default(false),
  })
  .strict();

const ReclaimInputSchema = z.union([StatusChangeSchema, ReclaimRequestSchema]);

/** The group a replace-group execution was working on, from its input. */
function groupOfInput(input: string | null | undefined): string | undefined {
  try {
    const parsed = GroupNameSchema.safeParse(
      (JSON.parse(input ?? "{}") as { groupName?: unknown }).groupName,
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The janitor: a replacement stopped from outside (StopExecution, the execution's timeout) runs none of its
 * own clean-up, so its lock would hold the group until the lease ran out and the group would stay pinned,
 * with processes suspended and sizes raised. When such an execution still holds a group's lock, this puts
 * back the launch template version, the processes and sizes recorded with the lock, releases it and says
 * so ("Replacement Abandoned"). Desired capacity is left as it is, and said: the instances the execution
 * launched are serving, and which ones to keep is a person's decision.
 */
async function reclaimStep(input: z.output<typeof ReclaimInputSchema>) {
  const tableName = config().PHOENIX_TABLE;
  let executionArn: string;
  let groupName: string | undefined;
  let dryRun = false;
  let status: string;
  if ("detail" in input) {
    if (input.detail.stateMachineArn !== stateMachineArn("replace-group"))
      return { reclaimed: false, reason: "not a replace-group execution" };
    executionArn = input.detail.executionArn;
    groupName = groupOfInput(input.detail.input);
    status = input.detail.status;
  } else {
    ({ executionArn, groupName, dryRun } = input);
    // Never take a group from an execution that is still working on it.
    status = (await describeExecution(executionArn)).status;
    if (status === "RUNNING")
      throw new InvalidInputError([{ path: "executionArn", message: `${executionArn} is still running` }]);
  }
  if (!groupName) return { reclaimed: false, reason: "the execution's input names no group" };
  const lock = await readGroupLock(tableName, groupName);
  if (lock?.owner !== executionArn)
    return { reclaimed: false, groupName, reason: `the lock of ${groupName} is not held by ${executionArn}` };
  if (!lock.previous) {
    // Fail closed: without the settings from before, releasing would let the next replacement start
    // from a half-changed group. The lease runs out by itself.
    logger.warn("abandoned lock without settings to restore", { groupName, executionArn });
    return {
      reclaimed: false,
      groupName,
      reason: "the lock records no settings to restore; it expires with its lease",
    };
  }
  const current = await readGroup(groupName);
  const restoration = restorationFor(lock.previous, current, "rolled-back");
  const left = { desiredCapacity: current.desiredCapacity, before: lock.previous.desiredCapacity };
  if (dryRun) return { reclaimed: false, dryRun: true, groupName, executionArn, restoration, left };
  await updateGroup({ groupName, ...restoration.update });
  await resumeProcesses(groupName, restoration.resumeProcesses);
  await releaseGroupLock({ tableName, groupName, owner: executionArn });
  const detail = { executionArn, status, groupName, restoration, left, reclaimedAt: now().toISOString() };
  await publishEvent(config().PHOENIX_EVENT_BUS, "Replacement Abandoned", detail);
  logger.warn("abandoned replacement reclaimed", detail);
  return { reclaimed: true, ...detail };
}

export const handler = phoenixHandler(ReclaimInputSchema, reclaimStep);
