import { z } from "zod";
import { terminateInstanceInGroup } from "../aws/autoscaling";
import { describeInstances } from "../aws/ec2";
import { readGroup } from "../aws/fleet";
import { InstanceIdSchema } from "../engine/policy";
import { StepSchema } from "../engine/schemas";
import { liveMembers } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const RetireInputSchema = StepSchema.extend({ instanceIds: z.array(InstanceIdSchema) });

/**
 * Terminates old instances the plan named, decrementing desired capacity. Skips any that are quarantined,
 * no longer in the group or already terminating, so a retry or a concurrent quarantine is safe.
 */
async function retireStep({ groupName, instanceIds }: typeof RetireInputSchema._output) {
  const group = await readGroup(groupName);
  const details = await describeInstances(instanceIds);
  const { live: terminate, skipped } = liveMembers(instanceIds, group, details);
  for (const instanceId of terminate) await terminateInstanceInGroup(instanceId, true);
  // Each termination decremented desired capacity by one.
  const desiredAfter = group.desiredCapacity - terminate.length;
  logger.info("retired instances", { terminated: terminate, skipped, desiredAfter });
  return { terminated: terminate, skipped, retiredAt: now().toISOString(), desiredAfter };
}

export const handler = phoenixHandler(RetireInputSchema, retireStep);
