import * as z from "zod";
import { findCaseSnapshots, snapshotInstance, snapshotStates, snapshotVolume } from "../aws/evidence";
import { describeKey } from "../aws/kms";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import { keyUsable } from "../engine/evidence";
import type { SuspectInstance } from "../engine/quarantine";
import { QuarantinePlanSchema } from "../engine/quarantine";
import type { EvidenceKey } from "../engine/quarantine-manifest";
import { QUARANTINE_TAG } from "../engine/types";
import { nextCheckDelay } from "../engine/wave";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const SnapshotSchema = z.object({
  snapshotId: z.string(),
  volumeId: z.string(),
  instanceId: z.string(),
  deviceName: z.string().optional(),
});

const SnapshotInputSchema = z.object({
  executionId: z.string().min(1),
  plan: QuarantinePlanSchema,
  /** Present on checks: the snapshots started, how, and when. */
  evidence: z
    .object({
      startedAt: z.string(),
      snapshots: z.array(SnapshotSchema),
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
    })
    .optional(),
});

/** How long evidence snapshots may take before the quarantine reports them incomplete. */
const SNAPSHOT_DEADLINE_SECONDS = 4 * 3600;

type Snapshot = z.output<typeof SnapshotSchema>;

/**
 * One instance's evidence: one crash-consistent set of all its EBS volumes (CreateSnapshots), except volumes
 * an earlier attempt already snapshotted for this case; where AWS refuses the set, one snapshot per volume,
 * and the manifest says they are not crash-consistent with each other.
 */
async function snapshotOne(
  caseId: string,
  instance: SuspectInstance,
): Promise<{ snapshots: Snapshot[]; crashConsistent: boolean; note?: string }> {
  const deviceOf = new Map(instance.volumes.map((volume) => [volume.volumeId, volume.deviceName]));
  const volumeIds = instance.volumes.map((volume) => volume.volumeId);
  if (volumeIds.length === 0) return { snapshots: [], crashConsistent: true, note: "no EBS volume" };
  const tags = {
    [QUARANTINE_TAG]: caseId,
    "phoenix:case": caseId,
    "phoenix:instance": instance.instanceId,
  };
  const description = `Phoenix evidence, case ${caseId}: ${instance.instanceId}`;
  const existing = await findCaseSnapshots(caseId, volumeIds);
  const found = (volumeId: string) => existing.find((snapshot) => snapshot.volumeId === volumeId);
  const missing = volumeIds.filter((volumeId) => !found(volumeId));
  const snapshots: Snapshot[] = existing
    .filter((snapshot) => volumeIds.includes(snapshot.volumeId))
    .map((snapshot) => ({
      ...snapshot,
      instanceId: instance.instanceId,
      deviceName: deviceOf.get(snapshot.volumeId),
    }));
  if (missing.length === 0) return { snapshots, crashConsistent: existing.length === volumeIds.length };
  const root = instance.volumes.find((volume) => volume.deviceName === instance.rootDeviceName);
  const set = await snapshotInstance(instance.instanceId, description, tags, {
    boot: root !== undefined && !missing.includes(root.volumeId),
    dataVolumeIds: volumeIds.filter((volumeId) => !missing.includes(volumeId) && volumeId !== root?.volumeId),
  });
  const taken = set.snapshots.filter((snapshot) => missing.includes(snapshot.volumeId));
  for (const snapshot of taken)
    snapshots.push({
      ...snapshot,
      instanceId: instance.instanceId,
      deviceName: deviceOf.get(snapshot.volumeId),
    });
  const stillMissing = missing.filter(
    (volumeId) => !taken.some((snapshot) => snapshot.volumeId === volumeId),
  );
  for (const volumeId of stillMissing) {
    const snapshotId = await snapshotVolume(volumeId, `${description} ${deviceOf.get(volumeId)}`, {
      ...tags,
      "phoenix:device": deviceOf.get(volumeId) ?? "",
    });
    snapshots.push({
      snapshotId,
      volumeId,
      instanceId: instance.instanceId,
      deviceName: deviceOf.get(volumeId),
    });
  }
  const crashConsistent = stillMissing.length === 0 && missing.length === volumeIds.length;
  const note = set.refused
    ? `CreateSnapshots refused (${set.refused}): each volume snapshotted on its own, not crash-consistent with each other`
    : !crashConsistent
      ? "an earlier attempt had snapshotted some volumes: the rest were taken later, not in the same set"
      : undefined;
  return { snapshots, crashConsistent, note };
}

/** The KMS keys of the suspects' encrypted volumes, and whether each can still decrypt their snapshots. */
async function evidenceKeys(instances: SuspectInstance[]): Promise<EvidenceKey[]> {
  const byKey = new Map<string, string[]>();
  for (const volume of instances.flatMap((instance) => instance.volumes))
    if (volume.kmsKeyId) byKey.set(volume.kmsKeyId, [...(byKey.get(volume.kmsKeyId) ?? []), volume.volumeId]);
  const keys: EvidenceKey[] = [];
  for (const [keyId, volumes] of byKey) {
    const key = await describeKey(keyId);
    keys.push({ ...key, usable: keyUsable(key.state), volumes });
  }
  return keys;
}

/**
 * Evidence, started right after preservation, before the suspect leaves its group: the first call takes one
 * crash-consistent set of snapshots per suspect (tagged with the case; an earlier attempt's are found, not
 * taken twice), records them, and checks that the KMS key of every encrypted volume is usable; later calls
 * report when all have completed.
 */
async function snapshotStep({ plan, evidence }: z.output<typeof SnapshotInputSchema>) {
  const at = now();
  let current = evidence;
  if (!current) {
    const snapshots: Snapshot[] = [];
    const methods: { instanceId: string; crashConsistent: boolean; note?: string }[] = [];
    for (const instance of plan.instances) {
      const taken = await snapshotOne(plan.caseId, instance);
      snapshots.push(...taken.snapshots);
      methods.push({
        instanceId: instance.instanceId,
        crashConsistent: taken.crashConsistent,
        note: taken.note,
      });
      const record = await readQuarantineRecord(config().PHOENIX_TABLE, instance.instanceId);
      if (record) {
        await writeQuarantineRecord(config().PHOENIX_TABLE, {
          ...record,
          snapshots: taken.snapshots.map(({ snapshotId, volumeId }) => ({ snapshotId, volumeId })),
          updatedAt: at.toISOString(),
        });
      }
    }
    current = { startedAt: at.toISOString(), snapshots, methods, keys: await evidenceKeys(plan.instances) };
    logger.info("evidence snapshots started", {
      caseId: plan.caseId,
      snapshots,
      methods,
      keys: current.keys,
    });
  }
  const states = await snapshotStates(current.snapshots.map((snapshot) => snapshot.snapshotId));
  const completed = states.every((snapshot) => snapshot.state === "completed");
  const failed = states.filter((snapshot) => snapshot.state === "error" || snapshot.state === "missing");
  const deadline = new Date(Date.parse(current.startedAt) + SNAPSHOT_DEADLINE_SECONDS * 1000).toISOString();
  return {
    ...current,
    states: states.map(({ snapshotId, state }) => ({ snapshotId, state })),
    completed,
    failed: failed.map((snapshot) => `${snapshot.snapshotId} ${snapshot.state}`),
    timedOut: !completed && at.getTime() >= Date.parse(deadline),
    /** Nothing more will change: all completed, one failed for good, or the deadline passed. */
    settled: completed || failed.length > 0 || at.getTime() >= Date.parse(deadline),
    nextCheckSeconds: nextCheckDelay(60, deadline, at),
    completedAt: completed ? at.toISOString() : undefined,
  };
}

export const handler = phoenixHandler(SnapshotInputSchema, snapshotStep);
