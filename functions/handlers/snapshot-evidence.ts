import * as z from "zod";
import { findCaseSnapshots, snapshotStates, snapshotVolume } from "../aws/evidence";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import { QuarantinePlanSchema } from "../engine/quarantine";
import { QUARANTINE_TAG } from "../engine/types";
import { nextCheckDelay } from "../engine/wave";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const SnapshotInputSchema = z.object({
  executionId: z.string().min(1),
  plan: QuarantinePlanSchema,
  /** Present on checks: the snapshots started and when. */
  evidence: z
    .object({
      startedAt: z.string(),
      snapshots: z.array(z.object({ snapshotId: z.string(), volumeId: z.string(), instanceId: z.string() })),
    })
    .optional(),
});

/** How long evidence snapshots may take before the quarantine reports them incomplete. */
const SNAPSHOT_DEADLINE_SECONDS = 4 * 3600;

/**
 * Evidence: the first call snapshots every EBS volume of every suspect, tagged with the case (finding the
 * ones a previous attempt started rather than snapshotting twice) and records them; later calls report when
 * all have completed.
 */
async function snapshotStep({ plan, evidence }: z.output<typeof SnapshotInputSchema>) {
  const at = now();
  let snapshots = evidence?.snapshots;
  const startedAt = evidence?.startedAt ?? at.toISOString();
  if (!snapshots) {
    snapshots = [];
    for (const instance of plan.instances) {
      const volumeIds = instance.volumes.map((volume) => volume.volumeId);
      const existing = await findCaseSnapshots(plan.caseId, volumeIds);
      for (const volume of instance.volumes) {
        const found = existing.find((snapshot) => snapshot.volumeId === volume.volumeId);
        const snapshotId =
          found?.snapshotId ??
          (await snapshotVolume(
            volume.volumeId,
            `Phoenix evidence, case ${plan.caseId}: ${instance.instanceId} ${volume.deviceName}`,
            {
              [QUARANTINE_TAG]: plan.caseId,
              "phoenix:case": plan.caseId,
              "phoenix:instance": instance.instanceId,
              "phoenix:device": volume.deviceName,
            },
          ));
        snapshots.push({ snapshotId, volumeId: volume.volumeId, instanceId: instance.instanceId });
      }
      const record = await readQuarantineRecord(config().PHOENIX_TABLE, instance.instanceId);
      if (record) {
        await writeQuarantineRecord(config().PHOENIX_TABLE, {
          ...record,
          snapshots: snapshots.filter((snapshot) => snapshot.instanceId === instance.instanceId),
          updatedAt: at.toISOString(),
        });
      }
    }
    logger.info("evidence snapshots started", { caseId: plan.caseId, snapshots });
  }
  const states = await snapshotStates(snapshots.map((snapshot) => snapshot.snapshotId));
  const completed = states.every((snapshot) => snapshot.state === "completed");
  const failed = states.filter((snapshot) => snapshot.state === "error" || snapshot.state === "missing");
  const deadline = new Date(Date.parse(startedAt) + SNAPSHOT_DEADLINE_SECONDS * 1000).toISOString();
  return {
    startedAt,
    snapshots,
    states,
    completed,
    failed: failed.map((snapshot) => `${snapshot.snapshotId} ${snapshot.state}`),
    timedOut: !completed && at.getTime() >= Date.parse(deadline),
    nextCheckSeconds: nextCheckDelay(60, deadline, at),
    completedAt: completed ? at.toISOString() : undefined,
  };
}

export const handler = phoenixHandler(SnapshotInputSchema, snapshotStep);
