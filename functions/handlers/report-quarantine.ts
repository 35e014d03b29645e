import * as z from "zod";
import { publishEvent } from "../aws/events";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import { type EvidenceManifest, manifestDigest, QuarantinePlanSchema } from "../engine/quarantine";
import { FailureSchema } from "../engine/schemas";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

// The whole quarantine state: whichever steps ran left their results.
const ReportInputSchema = z.object({
  executionId: z.string().min(1),
  plan: QuarantinePlanSchema,
  preserved: z.object({ at: z.string() }).optional(),
  isolated: z
    .object({
      at: z.string(),
      groups: z.record(z.string(), z.object({ untrackGroupId: z.string(), isolationGroupId: z.string() })),
      actions: z.array(z.object({ instanceId: z.string(), profile: z.string().optional() }).loose()),
    })
    .optional(),
  detach: z.object({ at: z.string() }).loose().optional(),
  collected: z
    .tuple([
      z.object({
        evidence: z.object({
          snapshots: z.array(
            z.object({ snapshotId: z.string(), volumeId: z.string(), instanceId: z.string() }),
          ),
          states: z.array(z.object({ snapshotId: z.string(), state: z.string() })),
          completedAt: z.string().optional(),
          completed: z.boolean(),
        }),
      }),
      z.object({
        standalone: z.boolean().optional(),
        detached: z.object({ checkedAt: z.string() }).loose().optional(),
        readiness: z
          .object({
            ready: z.boolean(),
            newInstanceIds: z.array(z.string()),
            waiting: z.array(z.string()),
            checkedAt: z.string(),
          })
          .loose()
          .optional(),
        verdict: z
          .object({ passed: z.boolean(), reasons: z.array(z.string()), probedAt: z.string() })
          .loose()
          .optional(),
      }),
    ])
    .optional(),
  failure: FailureSchema.optional(),
});

/**
 * The end of every quarantine, succeeded or not: one evidence manifest per instance (case, actor, reason,
 * timeline, snapshots, what isolation replaced, the replacement) with its SHA-256, stored with the
 * quarantine record and emitted as "Quarantine Completed". A replacement that was not validated, or a
 * quarantine that failed part-way, is said loudly in its own event; nothing is ever undone.
 */
async function reportStep(input: z.output<typeof ReportInputSchema>) {
  const { plan, isolated, collected, failure } = input;
  const at = now().toISOString();
  const evidence = collected?.[0].evidence;
  const replacement = collected?.[1];
  const standalone = !plan.group;
  const replacementValidated = standalone
    ? null
    : replacement?.verdict?.passed === true && replacement.readiness?.ready === true;
  const replacementReasons = standalone
    ? []
    : replacement?.verdict
      ? replacement.verdict.reasons
      : replacement?.readiness && !replacement.readiness.ready
        ? [`replacement not ready before the timeout: ${replacement.readiness.waiting.join("; ")}`]
        : [failure ? `${failure.Error}: ${failure.Cause ?? ""}` : "replacement not checked"];
  const timeline = [
    { at: plan.requestedAt, step: "requested", detail: `${plan.requestedBy}: ${plan.reason}` },
    input.preserved && {
      at: input.preserved.at,
      step: "preserved",
      detail: "tagged, termination protection, shutdown stops, volumes kept, scale-in protection",
    },
    isolated && {
      at: isolated.at,
      step: "isolated",
      detail: "all-traffic group, then isolation group; Elastic IPs detached; instance profile removed",
    },
    input.detach && { at: input.detach.at, step: "detaching", detail: `from ${plan.group?.groupName}` },
    replacement?.detached && {
      at: replacement.detached.checkedAt,
      step: "detached",
      detail: `out of ${plan.group?.groupName}`,
    },
    evidence?.completedAt && {
      at: evidence.completedAt,
      step: "snapshots completed",
      detail: evidence.snapshots.map((snapshot) => snapshot.snapshotId).join(", "),
    },
    replacement?.readiness && {
      at: replacement.readiness.checkedAt,
      step: "replacement ready",
      detail: replacement.readiness.newInstanceIds.join(", ") || "none",
    },
    replacement?.verdict && {
      at: replacement.verdict.probedAt,
      step: "replacement probed",
      detail: replacement.verdict.passed ? "passed" : replacement.verdict.reasons.join("; "),
    },
    failure && { at, step: "failed", detail: `${failure.Error}: ${failure.Cause ?? ""}` },
    { at, step: "reported", detail: failure ? "quarantine incomplete" : "quarantine completed" },
  ].filter((entry): entry is { at: string; step: string; detail: string } => !!entry);

  const manifests = [];
  for (const instance of plan.instances) {
    const groups = isolated?.groups[instance.vpcId];
    const manifest: EvidenceManifest = {
      caseId: plan.caseId,
      actor: plan.requestedBy,
      reason: plan.reason,
      instance,
      group: plan.group?.groupName,
      isolation: {
        isolationGroupId: groups?.isolationGroupId,
        untrackGroupId: groups?.untrackGroupId,
        previousGroups: Object.fromEntries(
          instance.networkInterfaces.map((eni) => [eni.networkInterfaceId, eni.groups]),
        ),
        previousInstanceProfile: instance.iamInstanceProfile?.arn,
        detachedElasticIps: instance.elasticIps.map((address) => address.publicIp),
      },
      snapshots: (evidence?.snapshots ?? [])
        .filter((snapshot) => snapshot.instanceId === instance.instanceId)
        .map((snapshot) => ({
          snapshotId: snapshot.snapshotId,
          volumeId: snapshot.volumeId,
          state:
            evidence?.states.find((state) => state.snapshotId === snapshot.snapshotId)?.state ?? "unknown",
        })),
      replacement: {
        instanceIds: replacement?.readiness?.newInstanceIds ?? [],
        validated: replacementValidated === true,
        reasons: replacementReasons,
      },
      timeline,
    };
    const digest = manifestDigest(manifest);
    const record = await readQuarantineRecord(config().PHOENIX_TABLE, instance.instanceId);
    if (record)
      await writeQuarantineRecord(config().PHOENIX_TABLE, { ...record, manifest, digest, updatedAt: at });
    manifests.push({ instanceId: instance.instanceId, digest, manifest });
  }
  const bus = config().PHOENIX_EVENT_BUS;
  const summary = {
    caseId: plan.caseId,
    actor: plan.requestedBy,
    reason: plan.reason,
    groupName: plan.group?.groupName,
  };
  await publishEvent(bus, "Quarantine Completed", {
    ...summary,
    complete: !failure,
    replacementValidated,
    manifests,
  });
  if (failure)
    await publishEvent(bus, "Quarantine Failed", {
      ...summary,
      error: failure.Error,
      cause: failure.Cause,
      timeline,
    });
  if (replacementValidated === false && !failure)
    await publishEvent(bus, "Quarantine Replacement Failed", { ...summary, reasons: replacementReasons });
  const cause = failure
    ? `quarantine of ${plan.instanceIds.join(", ")} stopped at ${timeline.at(-3)?.step ?? "the start"}: ${failure.Error}: ${failure.Cause ?? ""} (nothing was undone)`
    : replacementValidated === false
      ? `${plan.instanceIds.join(", ")} quarantined, but the replacement was not validated: ${replacementReasons.join("; ")}`
      : "";
  logger.warn("quarantine reported", { caseId: plan.caseId, replacementValidated, failed: !!failure });
  return {
    caseId: plan.caseId,
    instanceIds: plan.instanceIds,
    failed: !!failure,
    replacementValidated,
    cause,
    manifests,
  };
}

export const handler = phoenixHandler(ReportInputSchema, reportStep);
