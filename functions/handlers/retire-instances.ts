import { z } from "zod";
import { detachInstances } from "../aws/autoscaling";
import { describeInstances } from "../aws/ec2";
import { tagResources, terminateInstances } from "../aws/evidence";
import { readGroup } from "../aws/fleet";
import { InstanceIdSchema } from "../engine/policy";
import { StepSchema } from "../engine/schemas";
import { planRetirement, RETIRING_TAG } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const RetireInputSchema = StepSchema.extend({ instanceIds: z.array(InstanceIdSchema) });

/** AWS limits: DetachInstances takes 20 instances, TerminateInstances 1000. */
const DETACH_CHUNK = 20;
const TERMINATE_CHUNK = 1000;

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, index) =>
    items.slice(index * size, (index + 1) * size),
  );

/**
 * Retires the drained old instances the plan named, in bulk: tags them as this execution's, detaches them
 * from the group decrementing desired capacity (20 per call), then terminates them (1000 per call), so a
 * wave of hundreds costs a few dozen calls instead of one Auto Scaling call each. Skips any that are
 * quarantined, no longer in the group or already leaving it; a retry finishes what a crash left half done.
 */
async function retireStep({ executionId, groupName, instanceIds }: typeof RetireInputSchema._output) {
  const group = await readGroup(groupName);
  const details = await describeInstances(instanceIds);
  const { detach, terminate, skipped } = planRetirement(instanceIds, group, details, executionId);
  for (const chunk of chunks(detach, TERMINATE_CHUNK))
    await tagResources(chunk, { [RETIRING_TAG]: executionId });
  for (const chunk of chunks(detach, DETACH_CHUNK)) await detachInstances(groupName, chunk, true);
  for (const chunk of chunks(terminate, TERMINATE_CHUNK)) await terminateInstances(chunk);
  // Each detach decremented desired capacity by one.
  const desiredAfter = group.desiredCapacity - detach.length;
  logger.info("retired instances", { terminated: terminate, skipped, desiredAfter });
  return { terminated: terminate, skipped, retiredAt: now().toISOString(), desiredAfter };
}

export const handler = phoenixHandler(RetireInputSchema, retireStep);
