import * as z from "zod";
import { describeGroup, groupsOfInstances } from "../aws/autoscaling";
import { publishEvent } from "../aws/events";
import {
  quarantinedLastHour,
  releaseQuarantineReservation,
  reserveQuarantine,
} from "../aws/quarantine-budget";
import { startNamedExecution } from "../aws/stepfunctions";
import { executionName } from "../engine/names";
import { InstanceIdSchema } from "../engine/policy";
import { futureDated } from "../engine/provenance";
import { caseIdFor, QuarantineRequestSchema } from "../engine/quarantine";
import {
  type BudgetVerdict,
  type GroupReach,
  judgeHourlyBudget,
  judgeQuarantineReach,
  type QuarantineBudget,
} from "../engine/quarantine-budget";
import { guardDutyFindingIgnored, RESPONDER_SOURCE } from "../engine/trust";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";
import { stateMachineArn } from "../runtime/stack";

const envelope = {
  id: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  account: z.string().optional(),
};

/**
 * Phoenix's "Quarantine Requested" event, put by incident responders on Phoenix's bus (source
 * phoenix.responder): a quarantine request, plus `all` to allow naming every instance of a group.
 */
const QuarantineRequestedSchema = z
  .object({
    ...envelope,
    source: z.string().min(1),
    "detail-type": z.literal("Quarantine Requested"),
    detail: QuarantineRequestSchema.omit({ dryRun: true }).extend({ all: z.boolean().default(false) }),
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
        service: z
          .object({ additionalInfo: z.object({ sample: z.unknown() }).loose().optional() })
          .loose()
          .optional(),
      })
      .loose(),
  })
  .loose();

const EventSchema = z.discriminatedUnion("detail-type", [QuarantineRequestedSchema, GuardDutyFindingSchema]);
type Request = z.input<typeof QuarantineRequestSchema> & { caseId: string };

/** An event that starts nothing, logged with why. */
function ignore(reason: string, eventId: string) {
  logger.info("quarantine event ignored", { reason, eventId });
  return { status: "ignored" as const, reason };
}

/** Refuses the whole request, naming the rule, and tells the responders on the bus. */
async function refuse(request: Request, verdict: Exclude<BudgetVerdict, { allowed: true }>) {
  logger.warn("quarantine refused", { caseId: request.caseId, rule: verdict.rule, reason: verdict.reason });
  await publishEvent(config().PHOENIX_EVENT_BUS, "Quarantine Refused", {
    caseId: request.caseId,
    instanceIds: request.instanceIds,
    requestedBy: request.requestedBy,
    rule: verdict.rule,
    reason: verdict.reason,
  });
  return { status: "refused" as const, caseId: request.caseId, rule: verdict.rule, reason: verdict.reason };
}

/**
 * Checks the request against the blast-radius budgets and counts it: per request, never a whole group
 * unless allowed, and per group per hour (reserved with a conditional write; a group that does not fit
 * gives back what the others reserved, so the request is refused whole).
 */
async function withinBudgets(request: Request, wholeGroupAllowed: boolean): Promise<BudgetVerdict> {
  const budget: QuarantineBudget = {
    maxPerRequest: config().PHOENIX_QUARANTINE_MAX_PER_REQUEST,
    maxPerGroupPerHour: config().PHOENIX_QUARANTINE_MAX_PER_HOUR,
  };
  const memberships = await groupsOfInstances(request.instanceIds);
  const reach: GroupReach[] = [];
  const groupOf = (instanceId: string) => memberships.get(instanceId)?.groupName;
  for (const groupName of [...new Set([...memberships.values()].map((item) => item.groupName))].sort()) {
    const group = await describeGroup(groupName);
    reach.push({
      groupName,
      members: (group?.instances ?? [])
        .filter((instance) => !/^(Terminating|Terminated|Detaching|Detached)/.test(instance.lifecycleState))
        .map((instance) => instance.instanceId),
      requested: request.instanceIds.filter((id) => groupOf(id) === groupName),
    });
  }
  const reachVerdict = judgeQuarantineReach({
    instanceIds: request.instanceIds,
    groups: reach,
    wholeGroupAllowed,
    budget,
  });
  if (!reachVerdict.allowed) return reachVerdict;
  const table = config().PHOENIX_TABLE;
  const at = now();
  const reserved: GroupReach[] = [];
  const giveBack = async () => {
    for (const group of reserved)
      await releaseQuarantineReservation({
        tableName: table,
        groupName: group.groupName,
        caseId: request.caseId,
        count: group.requested.length,
        now: at,
      });
  };
  for (const group of reach) {
    const count = group.requested.length;
    const counted = await quarantinedLastHour(table, group.groupName, request.caseId, at);
    // A redelivered request was counted the first time.
    if (counted.alreadyCounted) continue;
    let verdict = judgeHourlyBudget(group.groupName, count, counted.used, budget);
    if (verdict.allowed) {
      const ok = await reserveQuarantine({
        tableName: table,
        groupName: group.groupName,
        caseId: request.caseId,
        count,
        maxInCurrentBucket: budget.maxPerGroupPerHour - counted.previousBucket,
        now: at,
      });
      // Another request took the room meanwhile: judge again on what is there now.
      if (!ok) {
        const again = await quarantinedLastHour(table, group.groupName, request.caseId, at);
        verdict = again.alreadyCounted
          ? { allowed: true }
          : judgeHourlyBudget(
              group.groupName,
              count,
              Math.max(again.used, budget.maxPerGroupPerHour),
              budget,
            );
      } else reserved.push(group);
    }
    if (!verdict.allowed) {
      await giveBack();
      return verdict;
    }
  }
  return { allowed: true };
}

/**
 * Starts the quarantine workflow for an incident responder's "Quarantine Requested" event or a GuardDuty
 * finding about an instance, within the blast-radius budgets. The execution is named after the case, so a
 * redelivered event starts nothing new.
 */
async function onQuarantineRequested(event: z.output<typeof EventSchema>) {
  const future = futureDated(event.time, now());
  if (future) return ignore(future, event.id);
  let request: Request;
  let wholeGroupAllowed = false;
  if (event["detail-type"] === "GuardDuty Finding") {
    const sample = guardDutyFindingIgnored(event.detail);
    if (sample) return ignore(sample, event.id);
    if (event.detail.severity < config().PHOENIX_GUARDDUTY_MIN_SEVERITY)
      return ignore(
        `severity ${event.detail.severity} below ${config().PHOENIX_GUARDDUTY_MIN_SEVERITY}`,
        event.id,
      );
    request = {
      instanceIds: [event.detail.resource.instanceDetails.instanceId],
      reason: `GuardDuty ${event.detail.type}: ${event.detail.title}`.slice(0, 256),
      caseId: `guardduty-${event.detail.id}`.slice(0, 64),
      requestedBy: "guardduty",
    };
  } else {
    // The rule admits only the responders' source; anything else reached the function some other way.
    if (event.source !== RESPONDER_SOURCE)
      return ignore(`source ${event.source} is not ${RESPONDER_SOURCE}`, event.id);
    const { all, ...detail } = event.detail;
    wholeGroupAllowed = all;
    // Who asked is the sender's claim; the record says so, with the source and account the event came from.
    const claimed = detail.requestedBy.slice(0, 160);
    request = {
      ...detail,
      requestedBy: `${claimed} (claimed; ${event.source} in ${event.account ?? "unknown account"})`,
      caseId:
        detail.caseId ??
        caseIdFor({ instanceIds: detail.instanceIds, reason: detail.reason }, new Date(event.time)),
    };
  }
  const verdict = await withinBudgets(request, wholeGroupAllowed);
  if (!verdict.allowed) return refuse(request, verdict);
  const execution = await startNamedExecution({
    stateMachineArn: stateMachineArn("quarantine-instance"),
    name: executionName("quarantine", request.caseId),
    input: request,
  });
  logger.warn("quarantine requested", {
    caseId: request.caseId,
    instanceIds: request.instanceIds,
    started: execution.started,
    at: now().toISOString(),
  });
  return { status: execution.started ? "started" : "already started", caseId: request.caseId, ...execution };
}

export const handler = phoenixHandler(EventSchema, onQuarantineRequested);
