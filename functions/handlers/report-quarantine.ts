import * as z from "zod";
import { publishEvent } from "../aws/events";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import { describeSuspects } from "../aws/suspects";
import { RESIDUAL_PATHS, stillOpen } from "../engine/containment";
import { notPreserved } from "../engine/evidence";
import { QuarantinePlanSchema, type SuspectInstance } from "../engine/quarantine";
import { type EvidenceManifest, manifestDigest } from "../engine/quarantine-manifest";
import { FailureSchema } from "../engine/schemas";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const EvidenceSchema = z
  .object({
    snapshots: z.array(
      z.object({
        snapshotId: z.string(),
        volumeId: z.string(),
        instanceId: z.string(),
        deviceName: z.string().optional(),
      }),
    ),
    states: z.array(z.object({ snapshotId: z.string(), state: z.string() })),
    methods: z.array(
      z.object({ instanceId: z.string(), crashConsistent: z.boolean(), note: z.string().optional() }),
    ),
    keys: z.array(
      z.object({
        keyId: z.string(),
        state: z.string(),
        manager: z.string().optional(),
        deletionDate: z.string().optional(),
        usable: z.boolean(),
        volumes: z.array(z.string()),
      }),
    ),
    failed: z.array(z.string()),
    completedAt: z.string().optional(),
    completed: z.boolean(),
  })
  .loose();

// The whole quarantine state: whichever steps ran left their results, whichever failed left a failure.
const ReportInputSchema = z.object({
  executionId: z.string().min(1),
  plan: QuarantinePlanSchema,
  isolated: z
    .object({
      at: z.string(),
      groups: z.record(z.string(), z.object({ untrackGroupId: z.string(), isolationGroupId: z.string() })),
      repairedRules: z.number().optional(),
      actions: z.array(
        z
          .object({
            instanceId: z.string(),
            steps: z.array(z.string()),
            publicAddressesRemoved: z.array(z.string()),
            profile: z.string().optional(),
            networkAcl: z
              .object({ subnetId: z.string(), previousAclId: z.string(), isolationAclId: z.string() })
              .optional(),
          })
          .loose(),
      ),
    })
    .optional(),
  revoked: z
    .object({
      at: z.string().optional(),
      skipped: z.string().optional(),
      revoked: z.array(
        z.object({
          instanceId: z.string(),
          roleName: z.string(),
          policyName: z.string(),
          issuedBefore: z.string(),
        }),
      ),
      notRevoked: z.array(z.object({ instanceId: z.string(), reason: z.string() })),
    })
    .optional(),
  preserved: z
    .object({
      at: z.string(),
      applied: z.array(z.object({ instanceId: z.string(), action: z.string() })),
      limitations: z.array(z.object({ instanceId: z.string(), action: z.string(), reason: z.string() })),
    })
    .loose()
    .optional(),
  evidence: EvidenceSchema.optional(),
  detach: z.object({ at: z.string() }).loose().optional(),
  collected: z
    .tuple([
      z.object({ evidence: EvidenceSchema.optional() }).loose(),
      z.object({
        standalone: z.boolean().optional(),
        replacementNotNeeded: z.boolean().optional(),
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
  revokeFailure: FailureSchema.optional(),
  preserveFailure: FailureSchema.optional(),
  snapshotFailure: FailureSchema.optional(),
});

type ReportInput = z.output<typeof ReportInputSchema>;
type Failure = z.output<typeof FailureSchema>;
const failureText = (failure: Failure) => `${failure.Error}: ${failure.Cause ?? ""}`;

/** The timeline of the quarantine, from every step's own time. */
function timelineOf(input: ReportInput, at: string, notDone: string[]) {
  const { plan, isolated, revoked, preserved } = input;
  const evidence = input.collected?.[0].evidence ?? input.evidence;
  const replacement = input.collected?.[1];
  return [
    { at: plan.requestedAt, step: "requested", detail: `${plan.requestedBy}: ${plan.reason}` },
    isolated && {
      at: isolated.at,
      step: "contained",
      detail:
        "public addresses off, idle timeouts at minimum, all-traffic group then isolation group, instance profile removed",
    },
    revoked?.at && {
      at: revoked.at,
      step: "credentials revoked",
      detail:
        revoked.revoked.map((item) => `${item.roleName}: ${item.policyName}`).join(", ") ||
        "no instance profile",
    },
    preserved && {
      at: preserved.at,
      step: "preserved",
      detail: `${preserved.applied.length} protections, ${preserved.limitations.length} limitations`,
    },
    evidence && {
      at: (evidence as { startedAt?: string }).startedAt ?? at,
      step: "snapshots started",
      detail: evidence.snapshots.map((snapshot) => snapshot.snapshotId).join(", ") || "no EBS volume",
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
    notDone.length > 0 && { at, step: "failed", detail: notDone.join("; ") },
    { at, step: "reported", detail: notDone.length > 0 ? "quarantine incomplete" : "quarantine completed" },
  ].filter((entry): entry is { at: string; step: string; detail: string } => !!entry);
}

/**
 * The end of every quarantine, succeeded or not. It reads each suspect back from AWS and says what is still
 * open (interfaces not in the isolation group alone, public addresses, the old instance profile), then writes
 * one evidence manifest per instance (containment in order, credentials, preservation and its limitations,
 * crash-consistent snapshots and their keys, what was not preserved, what AWS documents it cannot contain,
 * the replacement, the timeline) with its SHA-256, stored with the quarantine record and emitted as
 * "Quarantine Completed". Anything not done, still open, or not revoked fails the quarantine loudly, in its
 * own "Quarantine Failed" event; nothing is ever undone.
 */
async function reportStep(input: ReportInput) {
  const { plan, isolated, revoked, preserved } = input;
  const at = now().toISOString();
  const evidence = input.collected?.[0].evidence ?? input.evidence;
  const replacement = input.collected?.[1];
  const standalone = !plan.group;
  const replacementValidated = standalone
    ? null
    : replacement?.replacementNotNeeded === true ||
      (replacement?.verdict?.passed === true && replacement.readiness?.ready === true);
  const replacementReasons = standalone
    ? []
    : replacement?.replacementNotNeeded
      ? ["the suspects were in Standby: desired capacity did not count them, nothing replaces them"]
      : replacement?.verdict
        ? replacement.verdict.reasons
        : replacement?.readiness && !replacement.readiness.ready
          ? [`replacement not ready before the timeout: ${replacement.readiness.waiting.join("; ")}`]
          : [input.failure ? failureText(input.failure) : "replacement not checked"];

  // What AWS says now, not what the steps meant to do.
  const isolationGroups = new Set(
    Object.values(isolated?.groups ?? {}).map((groups) => groups.isolationGroupId),
  );
  const now_ = new Map(
    (await describeSuspects(plan.instanceIds, new Map())).map((instance) => [instance.instanceId, instance]),
  );
  const openBy = new Map(
    plan.instances.map((instance) => {
      const current = now_.get(instance.instanceId);
      return [
        instance.instanceId,
        current && current.state !== "terminated"
          ? stillOpen(current, isolationGroups, instance.iamInstanceProfile?.arn)
          : [],
      ];
    }),
  );
  const notRevoked = (revoked?.notRevoked ?? []).map(
    (item) => `${item.instanceId}: credentials not revoked: ${item.reason}`,
  );
  const notDone = [
    input.failure && `stopped: ${failureText(input.failure)}`,
    input.revokeFailure && `credentials not revoked: ${failureText(input.revokeFailure)}`,
    ...notRevoked,
    input.preserveFailure && `preservation failed: ${failureText(input.preserveFailure)}`,
    input.snapshotFailure && `snapshots failed: ${failureText(input.snapshotFailure)}`,
    ...(evidence?.failed ?? []).map((item) => `snapshot ${item}`),
    ...[...openBy].flatMap(([instanceId, open]) => open.map((item) => `${instanceId}: still open: ${item}`)),
  ].filter((item): item is string => !!item);
  const failed = notDone.length > 0;
  const timeline = timelineOf(input, at, notDone);

  const manifests = [];
  for (const instance of plan.instances) {
    const groups = isolated?.groups[instance.vpcId];
    const action = isolated?.actions.find((item) => item.instanceId === instance.instanceId);
    const current: SuspectInstance | undefined = now_.get(instance.instanceId);
    const snapshots = (evidence?.snapshots ?? []).filter(
      (snapshot) => snapshot.instanceId === instance.instanceId,
    );
    const method = evidence?.methods.find((item) => item.instanceId === instance.instanceId);
    const keys = (evidence?.keys ?? []).filter((key) =>
      key.volumes.some((volumeId) => instance.volumes.some((volume) => volume.volumeId === volumeId)),
    );
    const manifest: EvidenceManifest = {
      caseId: plan.caseId,
      actor: plan.requestedBy,
      reason: plan.reason,
      instance,
      group: plan.group?.groupName,
      containment: {
        steps: action?.steps ?? [],
        isolationGroupId: groups?.isolationGroupId,
        untrackGroupId: groups?.untrackGroupId,
        previousGroups: Object.fromEntries(
          instance.networkInterfaces.map((eni) => [eni.networkInterfaceId, eni.groups]),
        ),
        publicAddressesRemoved: action?.publicAddressesRemoved ?? [],
        detachedElasticIps: instance.elasticIps
          .filter((address) => address.associationId)
          .map((address) => address.publicIp),
        previousInstanceProfile: instance.iamInstanceProfile?.arn,
        instanceProfileNow: current?.iamInstanceProfile?.arn ?? "none",
        networkAcl:
          plan.options.networkAcl === "off"
            ? undefined
            : action?.networkAcl
              ? {
                  ...action.networkAcl,
                  note: `every instance of the subnet is cut off too: ${instance.subnet?.otherInstances.join(", ") || "none other"}`,
                }
              : {
                  subnetId: instance.subnetId,
                  note: `not applied: the subnet is not tagged phoenix:isolation-nacl=allowed${isolated ? "" : ", or containment stopped first"}`,
                },
        stillOpen: openBy.get(instance.instanceId) ?? [],
        residual: action?.networkAcl ? RESIDUAL_PATHS.slice(1) : RESIDUAL_PATHS,
      },
      credentials: {
        revoked: (revoked?.revoked ?? [])
          .filter((item) => item.instanceId === instance.instanceId)
          .map(({ roleName, policyName, issuedBefore }) => ({ roleName, policyName, issuedBefore })),
        notRevoked: [
          ...(revoked?.skipped ? [revoked.skipped] : []),
          ...(revoked?.notRevoked ?? [])
            .filter((item) => item.instanceId === instance.instanceId)
            .map((item) => item.reason),
          ...(input.revokeFailure ? [failureText(input.revokeFailure)] : []),
          ...(!revoked && !input.revokeFailure && instance.iamInstanceProfile
            ? ["the revocation step did not run"]
            : []),
        ],
      },
      preservation: {
        applied: (preserved?.applied ?? [])
          .filter((item) => item.instanceId === instance.instanceId)
          .map((item) => item.action),
        limitations: [
          ...(preserved?.limitations ?? [])
            .filter((item) => item.instanceId === instance.instanceId)
            .map(({ action: what, reason }) => ({ action: what, reason })),
          ...(input.preserveFailure
            ? [{ action: "preservation", reason: failureText(input.preserveFailure) }]
            : []),
        ],
      },
      evidence: {
        method: method?.note?.startsWith("CreateSnapshots refused")
          ? "CreateSnapshot, one per volume"
          : "CreateSnapshots (one set)",
        crashConsistent: method?.crashConsistent ?? false,
        note: method?.note,
        snapshots: snapshots.map((snapshot) => ({
          snapshotId: snapshot.snapshotId,
          volumeId: snapshot.volumeId,
          deviceName: snapshot.deviceName,
          state:
            evidence?.states.find((state) => state.snapshotId === snapshot.snapshotId)?.state ?? "unknown",
          kmsKeyId: instance.volumes.find((volume) => volume.volumeId === snapshot.volumeId)?.kmsKeyId,
        })),
        keys,
      },
      notPreserved: notPreserved(instance, {
        snapshotVolumes: snapshots
          .filter(
            (snapshot) =>
              (evidence?.states.find((state) => state.snapshotId === snapshot.snapshotId)?.state ??
                "pending") !== "error",
          )
          .map((snapshot) => snapshot.volumeId),
        keys,
      }),
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
    complete: !failed,
    replacementValidated,
    manifests,
  });
  const stillOpenNow = Object.fromEntries([...openBy].filter(([, open]) => open.length > 0));
  if (failed)
    await publishEvent(bus, "Quarantine Failed", {
      ...summary,
      instanceIds: plan.instanceIds,
      error: input.failure?.Error ?? "QuarantineIncomplete",
      notDone,
      stillOpen: stillOpenNow,
      timeline,
    });
  if (replacementValidated === false && !failed)
    await publishEvent(bus, "Quarantine Replacement Failed", { ...summary, reasons: replacementReasons });
  const isolatedNow = [...openBy.values()].every((open) => open.length === 0);
  const cause = failed
    ? `quarantine of ${plan.instanceIds.join(", ")} incomplete (${isolatedNow ? "the network containment holds" : "NOT CONTAINED"}): ${notDone.join("; ")} (nothing was undone)`
    : replacementValidated === false
      ? `${plan.instanceIds.join(", ")} quarantined, but the replacement was not validated: ${replacementReasons.join("; ")}`
      : "";
  logger.warn("quarantine reported", {
    caseId: plan.caseId,
    replacementValidated,
    failed,
    stillOpen: stillOpenNow,
  });
  return {
    caseId: plan.caseId,
    instanceIds: plan.instanceIds,
    failed,
    contained: isolatedNow,
    stillOpen: stillOpenNow,
    replacementValidated,
    cause,
    manifests,
  };
}

export const handler = phoenixHandler(ReportInputSchema, reportStep);
