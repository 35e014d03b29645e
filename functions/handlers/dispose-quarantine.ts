import * as z from "zod";
import { publishEvent } from "../aws/events";
import { allowTermination, snapshotStates, terminateInstances } from "../aws/evidence";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import { InvalidInputError } from "../engine/errors";
import { InstanceIdSchema } from "../engine/policy";
import { EvidenceIncompleteError } from "../engine/quarantine";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const DisposeInputSchema = z
  .object({
    instanceId: InstanceIdSchema,
    requestedBy: z.string().min(1).max(256).default("unknown"),
    dryRun: z.boolean().default(false),
  })
  .strict();

/**
 * Terminates a quarantined instance, but only once every one of its evidence snapshots exists and has
 * completed: otherwise EvidenceIncompleteError, and nothing changes. Its snapshots and record stay.
 */
async function disposeStep({ instanceId, requestedBy, dryRun }: z.output<typeof DisposeInputSchema>) {
  const tableName = config().PHOENIX_TABLE;
  const record = await readQuarantineRecord(tableName, instanceId);
  if (!record || record.status === "disposed") {
    throw new InvalidInputError([
      {
        path: "instanceId",
        message: `${instanceId} has no quarantine to dispose of${record ? " (already disposed)" : ""}`,
      },
    ]);
  }
  const expected = record.before.volumes.map((volume) => volume.volumeId);
  const states = await snapshotStates(record.snapshots.map((snapshot) => snapshot.snapshotId));
  const covered = new Set(
    record.snapshots
      .filter(
        (snapshot) => states.find((state) => state.snapshotId === snapshot.snapshotId)?.state === "completed",
      )
      .map((snapshot) => snapshot.volumeId),
  );
  const missing = expected.filter((volumeId) => !covered.has(volumeId));
  if (missing.length > 0) {
    throw new EvidenceIncompleteError(
      `Refusing to terminate ${instanceId}: no completed evidence snapshot of ${missing.join(", ")}`,
      { instanceId, missing, states },
    );
  }
  const snapshots = record.snapshots.map((snapshot) => snapshot.snapshotId);
  if (dryRun) return { instanceId, caseId: record.caseId, dryRun, wouldTerminate: true, snapshots };
  await allowTermination(instanceId);
  await terminateInstances([instanceId]);
  const at = now().toISOString();
  await writeQuarantineRecord(tableName, { ...record, status: "disposed", updatedAt: at });
  await publishEvent(config().PHOENIX_EVENT_BUS, "Quarantine Disposed", {
    instanceId,
    caseId: record.caseId,
    requestedBy,
    snapshots,
    digest: record.digest,
  });
  logger.warn("quarantined instance disposed", { instanceId, caseId: record.caseId, snapshots });
  return { instanceId, caseId: record.caseId, dryRun, terminated: true, snapshots };
}

export const handler = phoenixHandler(DisposeInputSchema, disposeStep);
