import * as z from "zod";
import { setScaleInProtection, suspendProcesses } from "../aws/autoscaling";
import { protectInstance, tagResources } from "../aws/evidence";
import { writeQuarantineRecord } from "../aws/quarantine-records";
import { QUARANTINE_SUSPENDED_PROCESSES, QUARANTINE_TAGS, QuarantinePlanSchema } from "../engine/quarantine";
import { QUARANTINE_TAG } from "../engine/types";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const PreserveInputSchema = z.object({ executionId: z.string().min(1), plan: QuarantinePlanSchema });

/**
 * Preserve first, before anything else changes: record the instance as it is (for release and the
 * manifest), tag it quarantined (every Phoenix replacement skips such instances), turn on termination
 * protection, make a shutdown from inside stop instead of terminate, keep its volumes on termination, protect
 * it from scale-in and pause the group's processes that could replace (terminate) it once it fails health
 * checks.
 */
async function preserveStep({ executionId, plan }: z.output<typeof PreserveInputSchema>) {
  const at = now().toISOString();
  for (const instance of plan.instances) {
    await writeQuarantineRecord(config().PHOENIX_TABLE, {
      instanceId: instance.instanceId,
      caseId: plan.caseId,
      status: "quarantined",
      reason: plan.reason,
      actor: plan.requestedBy,
      quarantinedAt: at,
      before: instance,
      snapshots: [],
      updatedAt: at,
    });
  }
  await tagResources(plan.instanceIds, {
    [QUARANTINE_TAG]: plan.caseId,
    [QUARANTINE_TAGS.case]: plan.caseId,
    [QUARANTINE_TAGS.reason]: plan.reason.slice(0, 256),
    [QUARANTINE_TAGS.actor]: plan.requestedBy.slice(0, 256),
    [QUARANTINE_TAGS.at]: at,
  });
  for (const instance of plan.instances) {
    await protectInstance(
      instance.instanceId,
      instance.volumes.map((volume) => volume.deviceName),
    );
  }
  let suspendedByPhoenix: string[] = [];
  if (plan.group) {
    await setScaleInProtection(plan.group.groupName, plan.instanceIds, true);
    suspendedByPhoenix = QUARANTINE_SUSPENDED_PROCESSES.filter(
      (process) => !plan.group?.suspendedBefore.includes(process),
    );
    await suspendProcesses(plan.group.groupName, suspendedByPhoenix);
  }
  logger.info("evidence preserved", { executionId, caseId: plan.caseId, suspendedByPhoenix });
  return { at, suspendedByPhoenix };
}

export const handler = phoenixHandler(PreserveInputSchema, preserveStep);
