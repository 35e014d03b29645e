import * as z from "zod";
import { startNamedExecution } from "../aws/stepfunctions";
import { executionName } from "../engine/names";
import { InstanceIdSchema } from "../engine/policy";
import { caseIdFor, QuarantineRequestSchema } from "../engine/quarantine";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";
import { stateMachineArn } from "../runtime/stack";

const envelope = { id: z.string().min(1), time: z.iso.datetime({ offset: true }) };

/** Phoenix's "Quarantine Requested" event: detail is a quarantine request (instanceIds, reason, caseId). */
const QuarantineRequestedSchema = z
  .object({
    ...envelope,
    source: z.string().min(1),
    "detail-type": z.literal("Quarantine Requested"),
    detail: QuarantineRequestSchema.omit({ dryRun: true }),
  })
  .loose();

/** A GuardDuty finding about an EC2 instance (the rule sends only those at or above the configured severity). */
const GuardDutyFindingSchema = z
  .object({
    ...envelope,
    source: z.literal("aws.guardduty"),
    "detail-type": z.literal("GuardDuty Finding"),
    detail: z
      .object({
        id: z.string(),
        type: z.string(),
        title: z.string(),
        severity: z.number(),
        resource: z
          .object({
            resourceType: z.string(),
            instanceDetails: z.object({ instanceId: InstanceIdSchema }).loose(),
          })
          .loose(),
      })
      .loose(),
  })
  .loose();

const EventSchema = z.discriminatedUnion("detail-type", [QuarantineRequestedSchema, GuardDutyFindingSchema]);

/**
 * Starts the quarantine workflow for a "Quarantine Requested" event or a GuardDuty finding about an
 * instance. The execution is named after the case, so a redelivered event starts nothing new.
 */
async function onQuarantineRequested(event: z.output<typeof EventSchema>) {
  let request: z.input<typeof QuarantineRequestSchema>;
  if (event["detail-type"] === "GuardDuty Finding") {
    if (event.detail.severity < config().PHOENIX_GUARDDUTY_MIN_SEVERITY) {
      return {
        status: "ignored",
        reason: `severity ${event.detail.severity} below ${config().PHOENIX_GUARDDUTY_MIN_SEVERITY}`,
      };
    }
    request = {
      instanceIds: [event.detail.resource.instanceDetails.instanceId],
      reason: `GuardDuty ${event.detail.type}: ${event.detail.title}`.slice(0, 256),
      caseId: `guardduty-${event.detail.id}`.slice(0, 64),
      requestedBy: "guardduty",
    };
  } else {
    request = event.detail;
  }
  const caseId =
    request.caseId ??
    caseIdFor({ instanceIds: request.instanceIds, reason: request.reason }, new Date(event.time));
  const execution = await startNamedExecution({
    stateMachineArn: stateMachineArn("quarantine-instance"),
    name: executionName("quarantine", caseId),
    input: { ...request, caseId },
  });
  logger.warn("quarantine requested", {
    caseId,
    instanceIds: request.instanceIds,
    started: execution.started,
    at: now().toISOString(),
  });
  return { status: execution.started ? "started" : "already started", caseId, ...execution };
}

export const handler = phoenixHandler(EventSchema, onQuarantineRequested);
