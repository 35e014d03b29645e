import * as z from "zod";
import { setScaleInProtection, suspendProcesses } from "../aws/autoscaling";
import { protectInstance } from "../aws/evidence";
import {
  PRESERVE_ACTION_TEXT,
  PreserveRefusedError,
  preserveSteps,
  REFUSED_FOR_KIND,
} from "../engine/evidence";
import { QUARANTINE_SUSPENDED_PROCESSES, QuarantinePlanSchema } from "../engine/quarantine";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const PreserveInputSchema = z.object({ executionId: z.string().min(1), plan: QuarantinePlanSchema });

/**
 * Right after containment: make the suspects hard to lose. Termination protection, a shutdown from inside
 * stops instead of terminating, EBS volumes kept on termination, scale-in protection, and the group's
 * processes that would replace (terminate) an instance failing its health checks paused. What AWS refuses
 * for an instance's kind (termination protection on Spot, a shutdown behaviour on an instance-store root) is
 * a limitation recorded for the manifest, not a failure; any other refusal fails the step.
 */
async function preserveStep({ executionId, plan }: z.output<typeof PreserveInputSchema>) {
  const at = now().toISOString();
  const applied: { instanceId: string; action: string }[] = [];
  const limitations: { instanceId: string; action: string; reason: string }[] = [];
  const failures: string[] = [];
  for (const instance of plan.instances) {
    for (const { action, impossible } of preserveSteps(instance)) {
      if (impossible) {
        limitations.push({
          instanceId: instance.instanceId,
          action: PRESERVE_ACTION_TEXT[action],
          reason: impossible,
        });
        continue;
      }
      const { refused } = await protectInstance(
        instance.instanceId,
        action,
        instance.volumes.map((volume) => volume.deviceName),
      );
      if (!refused) applied.push({ instanceId: instance.instanceId, action: PRESERVE_ACTION_TEXT[action] });
      else if (REFUSED_FOR_KIND.has(refused.code))
        limitations.push({
          instanceId: instance.instanceId,
          action: PRESERVE_ACTION_TEXT[action],
          reason: `AWS refused it for this instance: ${refused.message}`,
        });
      else failures.push(`${instance.instanceId}: ${PRESERVE_ACTION_TEXT[action]}: ${refused.message}`);
    }
  }
  let suspendedByPhoenix: string[] = [];
  if (plan.group) {
    await setScaleInProtection(plan.group.groupName, plan.instanceIds, true);
    suspendedByPhoenix = QUARANTINE_SUSPENDED_PROCESSES.filter(
      (process) => !plan.group?.suspendedBefore.includes(process),
    );
    await suspendProcesses(plan.group.groupName, suspendedByPhoenix);
    applied.push(
      ...plan.instanceIds.map((instanceId) => ({ instanceId, action: "protected from scale-in" })),
      ...plan.instanceIds.map((instanceId) => ({
        instanceId,
        action: `group processes paused: ${suspendedByPhoenix.join(", ") || "(already paused)"}`,
      })),
    );
  }
  if (failures.length > 0) {
    // The group's protections are on; the refusals are a failure a person must see.
    throw new PreserveRefusedError(`AWS refused to preserve: ${failures.join("; ")}`, {
      failures,
      applied,
      limitations,
    });
  }
  logger.info("evidence preserved", { executionId, caseId: plan.caseId, suspendedByPhoenix, limitations });
  return { at, suspendedByPhoenix, applied, limitations };
}

export const handler = phoenixHandler(PreserveInputSchema, preserveStep);
