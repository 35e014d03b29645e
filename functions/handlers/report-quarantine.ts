import * as z from "zod";
import { publishEvent } from "../aws/events";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import { describeSuspects } from "../aws/suspects";
import { QuarantinePlanSchema } from "../engine/quarantine";
import { manifestDigest } from "../engine/quarantine-manifest";
import {
  manifestOf,
  notDoneOf,
  openPaths,
  replacementVerdict,
  timelineOf,
} from "../engine/quarantine-report";
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

/**
 * The end of every quarantine, succeeded or not. It reads each suspect back from AWS and says what is still
 * open (interfaces not in the isolation group alone, public addresses, the old instance profile), then writes
 * one evidence manifest per instance (containment in order, credentials, preservation and its limitations,
 * crash-consistent snapshots and their keys, what was not preserved, what AWS documents it cannot contain,
 * the replacement, the timeline) with its SHA-256, stored with the quarantine record and emitted as
 * "Quarantine Completed". Anything not done, still open, or not revoked fails the quarantine loudly, in its
 * own "Quarantine Failed" event; nothing is ever undone.
 */
async function reportStep(input: z.output<typeof ReportInputSchema>) {
  const { plan } = input;
  const at = now().toISOString();
  const { validated: replacementValidated, reasons: replacementReasons } = replacementVerdict(input);

  // What AWS says now, not what the steps meant to do.
  const current = new Map(
    (await describeSuspects(plan.instanceIds, new Map())).map((instance) => [instance.instanceId, instance]),
  );
  const openBy = openPaths(input, current);
  const notDone = notDoneOf(input, openBy);
  const failed = notDone.length > 0;
  const timeline = timelineOf(input, at, notDone);

  const manifests = [];
  for (const instance of plan.instances) {
    const manifest = manifestOf({
      outcome: input,
      instance,
      current: current.get(instance.instanceId),
      open: openBy.get(instance.instanceId) ?? [],
      replacement: { validated: replacementValidated, reasons: replacementReasons },
      timeline,
    });
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
