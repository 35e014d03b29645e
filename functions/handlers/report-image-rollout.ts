import * as z from "zod";
import { publishEvent } from "../aws/events";
import { describeExecutionIfAny } from "../aws/stepfunctions";
import { executionArnOf } from "../engine/names";
import { FailureSchema } from "../engine/schemas";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";
import { stateMachineArn } from "../runtime/stack";

const ReportInputSchema = z.object({
  executionId: z.string().min(1),
  outcome: z.enum(["completed", "halted"]),
  rollout: z
    .object({
      channel: z.string(),
      imageId: z.string(),
      waves: z.array(
        z.object({
          wave: z.number(),
          groups: z.array(z.object({ groupName: z.string(), executionName: z.string() })),
        }),
      ),
    })
    .loose(),
  failure: FailureSchema.optional(),
});

/** The last attempt of a group's replacement (the rollout names them <name>-1, -2, ... while the group is busy). */
async function latestAttempt(stateMachineArn: string, executionName: string) {
  let latest: Awaited<ReturnType<typeof describeExecutionIfAny>>;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const execution = await describeExecutionIfAny(
      executionArnOf(stateMachineArn, `${executionName}-${attempt}`),
    );
    if (!execution) break;
    latest = execution;
  }
  return latest;
}

/** As many attempts as the image-rollout state machine makes (its BusyTooLong choice). */
const MAX_ATTEMPTS = 30;

/**
 * Tells the fleet how an image rollout ended: "Image Rollout Completed", or "Image Rollout Halted" saying
 * which groups failed and why (read from their replacement executions) and which never started.
 */
async function reportStep(input: z.output<typeof ReportInputSchema>) {
  const { rollout, executionId } = input;
  const bus = config().PHOENIX_EVENT_BUS;
  const groups = rollout.waves.flatMap((wave) => wave.groups.map((group) => ({ ...group, wave: wave.wave })));
  if (input.outcome === "completed") {
    const detail = {
      executionId,
      channel: rollout.channel,
      imageId: rollout.imageId,
      waves: rollout.waves.length,
      groups: groups.map((group) => group.groupName),
    };
    await publishEvent(bus, "Image Rollout Completed", detail);
    logger.info("image rollout completed", detail);
    return { ...detail, cause: "" };
  }
  const replaceGroupArn = stateMachineArn("replace-group");
  const outcomes = [];
  for (const group of groups) {
    const execution = await latestAttempt(replaceGroupArn, group.executionName);
    outcomes.push({
      groupName: group.groupName,
      wave: group.wave,
      status: execution?.status ?? "NOT_STARTED",
      error: execution?.error,
      cause: execution?.cause,
    });
  }
  const failedGroups = outcomes.filter(
    (outcome) => !["SUCCEEDED", "NOT_STARTED", "RUNNING"].includes(outcome.status),
  );
  const notStarted = outcomes
    .filter((outcome) => outcome.status === "NOT_STARTED")
    .map((outcome) => outcome.groupName);
  const haltedAtWave = failedGroups[0]?.wave;
  const why =
    failedGroups.length > 0
      ? `wave ${haltedAtWave} failed: ${failedGroups.map((group) => `${group.groupName} ${group.error ?? group.status}: ${group.cause ?? ""}`).join("; ")}`
      : `${input.failure?.Error ?? "unknown error"}: ${input.failure?.Cause ?? ""}`;
  const detail = {
    executionId,
    channel: rollout.channel,
    imageId: rollout.imageId,
    haltedAtWave,
    why,
    groups: outcomes,
    notStarted,
  };
  await publishEvent(bus, "Image Rollout Halted", detail);
  logger.warn("image rollout halted", { why, notStarted });
  return { ...detail, cause: `${why} (not started: ${notStarted.join(", ") || "none"})` };
}

export const handler = phoenixHandler(ReportInputSchema, reportStep);
