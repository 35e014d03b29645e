// The end of a quarantine, as data: from what every step left in the execution's state and what AWS says
// about each suspect now, what was not done, the timeline, and one evidence manifest per instance. Pure: the
// report handler reads AWS, calls this, and writes the results.
import { RESIDUAL_PATHS, stillOpen } from "./containment";
import { notPreserved } from "./evidence";
import type { QuarantinePlan, SuspectInstance } from "./quarantine";
import type { EvidenceKey, EvidenceManifest } from "./quarantine-manifest";

/** A caught failure, as Step Functions puts it in the state. */
export interface StepFailure {
  Error: string;
  Cause?: string;
}

/** The evidence snapshots as the snapshot step leaves them. */
export interface EvidenceState {
  startedAt?: string;
  snapshots: { snapshotId: string; volumeId: string; instanceId: string; deviceName?: string }[];
  states: { snapshotId: string; state: string }[];
  methods: { instanceId: string; crashConsistent: boolean; note?: string }[];
  keys: EvidenceKey[];
  failed: string[];
  completedAt?: string;
  completed: boolean;
}

/** Everything the quarantine's steps left in its state. */
export interface QuarantineOutcome {
  plan: QuarantinePlan;
  isolated?: {
    at: string;
    groups: Record<string, { untrackGroupId: string; isolationGroupId: string }>;
    actions: {
      instanceId: string;
      steps: string[];
      publicAddressesRemoved: string[];
      networkAcl?: { subnetId: string; previousAclId: string; isolationAclId: string };
    }[];
  };
  revoked?: {
    at?: string;
    skipped?: string;
    revoked: { instanceId: string; roleName: string; policyName: string; issuedBefore: string }[];
    notRevoked: { instanceId: string; reason: string }[];
  };
  preserved?: {
    at: string;
    applied: { instanceId: string; action: string }[];
    limitations: { instanceId: string; action: string; reason: string }[];
  };
  evidence?: EvidenceState;
  detach?: { at: string };
  collected?: [
    { evidence?: EvidenceState },
    {
      replacementNotNeeded?: boolean;
      detached?: { checkedAt: string };
      readiness?: { ready: boolean; newInstanceIds: string[]; waiting: string[]; checkedAt: string };
      verdict?: { passed: boolean; reasons: string[]; probedAt: string };
    },
  ];
  failure?: StepFailure;
  revokeFailure?: StepFailure;
  preserveFailure?: StepFailure;
  snapshotFailure?: StepFailure;
}

const failureText = (failure: StepFailure) => `${failure.Error}: ${failure.Cause ?? ""}`;

/** The evidence, from the parallel branch when it ran, else from the step that started the snapshots. */
export const evidenceOf = (outcome: QuarantineOutcome) => outcome.collected?.[0].evidence ?? outcome.evidence;

/** Whether the replacement was validated (null: a standalone instance has none), and why not. */
export function replacementVerdict(outcome: QuarantineOutcome): {
  validated: boolean | null;
  reasons: string[];
} {
  if (!outcome.plan.group) return { validated: null, reasons: [] };
  const replacement = outcome.collected?.[1];
  if (replacement?.replacementNotNeeded)
    return {
      validated: true,
      reasons: ["the suspects were in Standby: desired capacity did not count them, nothing replaces them"],
    };
  const validated = replacement?.verdict?.passed === true && replacement.readiness?.ready === true;
  const reasons = replacement?.verdict
    ? replacement.verdict.reasons
    : replacement?.readiness && !replacement.readiness.ready
      ? [`replacement not ready before the timeout: ${replacement.readiness.waiting.join("; ")}`]
      : [outcome.failure ? failureText(outcome.failure) : "replacement not checked"];
  return { validated, reasons };
}

/** What still connects each suspect, from each as AWS describes it now (a terminated one: nothing). */
export function openPaths(
  outcome: QuarantineOutcome,
  now: Map<string, SuspectInstance>,
): Map<string, string[]> {
  const isolationGroups = new Set(
    Object.values(outcome.isolated?.groups ?? {}).map((groups) => groups.isolationGroupId),
  );
  return new Map(
    outcome.plan.instances.map((instance) => {
      const current = now.get(instance.instanceId);
      return [
        instance.instanceId,
        current && current.state !== "terminated"
          ? stillOpen(current, isolationGroups, instance.iamInstanceProfile?.arn)
          : [],
      ];
    }),
  );
}

/** Everything not done, still open or not revoked: any of it fails the quarantine. */
export function notDoneOf(outcome: QuarantineOutcome, open: Map<string, string[]>): string[] {
  return [
    outcome.failure && `stopped: ${failureText(outcome.failure)}`,
    outcome.revokeFailure && `credentials not revoked: ${failureText(outcome.revokeFailure)}`,
    ...(outcome.revoked?.notRevoked ?? []).map(
      (item) => `${item.instanceId}: credentials not revoked: ${item.reason}`,
    ),
    outcome.preserveFailure && `preservation failed: ${failureText(outcome.preserveFailure)}`,
    outcome.snapshotFailure && `snapshots failed: ${failureText(outcome.snapshotFailure)}`,
    ...(evidenceOf(outcome)?.failed ?? []).map((item) => `snapshot ${item}`),
    ...[...open].flatMap(([instanceId, paths]) => paths.map((item) => `${instanceId}: still open: ${item}`)),
  ].filter((item): item is string => !!item);
}

/** The timeline of the quarantine, from every step's own time. */
export function timelineOf(outcome: QuarantineOutcome, at: string, notDone: string[]) {
  const { plan, isolated, revoked, preserved } = outcome;
  const evidence = evidenceOf(outcome);
  const replacement = outcome.collected?.[1];
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
      at: evidence.startedAt ?? at,
      step: "snapshots started",
      detail: evidence.snapshots.map((snapshot) => snapshot.snapshotId).join(", ") || "no EBS volume",
    },
    outcome.detach && { at: outcome.detach.at, step: "detaching", detail: `from ${plan.group?.groupName}` },
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

/** One instance's evidence manifest. */
export function manifestOf(args: {
  outcome: QuarantineOutcome;
  instance: SuspectInstance;
  current?: SuspectInstance;
  open: string[];
  replacement: { validated: boolean | null; reasons: string[] };
  timeline: { at: string; step: string; detail: string }[];
}): EvidenceManifest {
  const { outcome, instance, current, open } = args;
  const { plan, isolated, revoked, preserved } = outcome;
  const evidence = evidenceOf(outcome);
  const groups = isolated?.groups[instance.vpcId];
  const action = isolated?.actions.find((item) => item.instanceId === instance.instanceId);
  const mine = <T extends { instanceId: string }>(items: T[] | undefined) =>
    (items ?? []).filter((item) => item.instanceId === instance.instanceId);
  const snapshots = mine(evidence?.snapshots);
  const stateOf = (snapshotId: string) =>
    evidence?.states.find((state) => state.snapshotId === snapshotId)?.state;
  const method = mine(evidence?.methods)[0];
  const keys = (evidence?.keys ?? []).filter((key) =>
    key.volumes.some((volumeId) => instance.volumes.some((volume) => volume.volumeId === volumeId)),
  );
  return {
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
      stillOpen: open,
      residual: action?.networkAcl ? RESIDUAL_PATHS.slice(1) : RESIDUAL_PATHS,
    },
    credentials: {
      revoked: mine(revoked?.revoked).map(({ roleName, policyName, issuedBefore }) => ({
        roleName,
        policyName,
        issuedBefore,
      })),
      notRevoked: [
        ...(revoked?.skipped ? [revoked.skipped] : []),
        ...mine(revoked?.notRevoked).map((item) => item.reason),
        ...(outcome.revokeFailure ? [failureText(outcome.revokeFailure)] : []),
        ...(!revoked && !outcome.revokeFailure && instance.iamInstanceProfile
          ? ["the revocation step did not run"]
          : []),
      ],
    },
    preservation: {
      applied: mine(preserved?.applied).map((item) => item.action),
      limitations: [
        ...mine(preserved?.limitations).map(({ action: what, reason }) => ({ action: what, reason })),
        ...(outcome.preserveFailure
          ? [{ action: "preservation", reason: failureText(outcome.preserveFailure) }]
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
        state: stateOf(snapshot.snapshotId) ?? "unknown",
        kmsKeyId: instance.volumes.find((volume) => volume.volumeId === snapshot.volumeId)?.kmsKeyId,
      })),
      keys,
    },
    notPreserved: notPreserved(instance, {
      snapshotVolumes: snapshots
        .filter((snapshot) => (stateOf(snapshot.snapshotId) ?? "pending") !== "error")
        .map((snapshot) => snapshot.volumeId),
      keys,
    }),
    replacement: {
      instanceIds: outcome.collected?.[1].readiness?.newInstanceIds ?? [],
      validated: args.replacement.validated === true,
      reasons: args.replacement.reasons,
    },
    timeline: args.timeline,
  };
}
