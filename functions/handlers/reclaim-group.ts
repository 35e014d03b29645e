import * as z from "zod";
import { resumeProcesses, updateGroup } from "../aws/autoscaling";
import { publishEvent } from "../aws/events";
import { readGroupWithInstances } from "../aws/fleet";
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
import { reapLeftovers } from "./shared/leftovers";

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
 * own clean-up, so its lock would hold the group until the lease ran out, the group would stay pinned with
 * processes suspended and sizes raised, and the old instances it had already taken out of service would run
 * on outside the group. When such an execution still holds a group's lock, this puts back the launch
 * template version, the processes and sizes recorded with the lock and releases it; in every case it
 * terminates the instances the execution took out of service that have left the group (drained), and names
 * those still draining (the next sweep terminates them). It says all of it in "Replacement Abandoned".
 * Desired capacity is left as it is, and said: the instances the execution launched are serving, and which
 * ones to keep is a person's decision.
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
  // The instances it took out of service: terminated once out of the group, named while still draining.
  const leftovers = await reapLeftovers({ dryRun, execution: { executionArn, status } });
  const retired = {
    terminated: leftovers.terminated,
    toTerminate: dryRun ? leftovers.terminate : [],
    leftDraining: leftovers.left.map((item) => item.instanceId),
  };
  const lock = await readGroupLock(tableName, groupName);
  let restoration: ReturnType<typeof restorationFor> | undefined;
  let reason: string | undefined;
  let left: { desiredCapacity: number; before: number } | undefined;
  if (lock?.owner !== executionArn) reason = `the lock of ${groupName} is not held by ${executionArn}`;
  else if (!lock.previous) {
    // Fail closed: without the settings from before, releasing would let the next replacement start
    // from a half-changed group. The lease runs out by itself.
    logger.warn("abandoned lock without settings to restore", { groupName, executionArn });
    reason = "the lock records no settings to restore; it expires with its lease";
  } else {
    // With its instances' tags: a quarantined member keeps the processes that protect it suspended.
    const current = await readGroupWithInstances(groupName);
    restoration = restorationFor(lock.previous, current, "rolled-back");
    left = { desiredCapacity: current.desiredCapacity, before: lock.previous.desiredCapacity };
  }
  if (dryRun)
    return { reclaimed: false, dryRun: true, groupName, executionArn, restoration, left, retired, reason };
  if (restoration && lock) {
    await updateGroup({ groupName, ...restoration.update });
    await resumeProcesses(groupName, restoration.resumeProcesses);
    await releaseGroupLock({ tableName, groupName, owner: executionArn });
  }
  const anythingDone = !!restoration || retired.terminated.length > 0 || retired.leftDraining.length > 0;
  if (!anythingDone) return { reclaimed: false, groupName, reason };
  const detail = {
    executionArn,
    status,
    groupName,
    reclaimed: !!restoration,
    ...(reason ? { reason } : {}),
    restoration,
    left,
    retired,
    reclaimedAt: now().toISOString(),
  };
  await publishEvent(config().PHOENIX_EVENT_BUS, "Replacement Abandoned", detail);
  logger.warn("abandoned replacement reclaimed", detail);
  return { ...detail, reclaimed: !!restoration };
}

export const handler = phoenixHandler(ReclaimInputSchema, reclaimStep);
