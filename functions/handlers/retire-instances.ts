import * as z from "zod";
import { detachInstances } from "../aws/autoscaling";
import { describeInstances, findTaggedInstances } from "../aws/ec2";
import { deregisterTargets, describeHealthAcross } from "../aws/elbv2";
import { tagResources, terminateInstances } from "../aws/evidence";
import { readGroup } from "../aws/fleet";
import { batches, PER_CALL } from "../engine/batches";
import { BelowFloorError } from "../engine/errors";
import { InstanceIdSchema } from "../engine/policy";
import { StepSchema } from "../engine/schemas";
import {
  floorVerdict,
  liveMembers,
  planReap,
  RETIRED_AT_TAG,
  RETIRING_TAG,
  servingMembers,
} from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const RetireInputSchema = StepSchema.extend({
  instanceIds: z.array(InstanceIdSchema),
  /** Healthy in-service instances the group must keep. */
  floor: z.number().int().min(0),
});

/**
 * Takes old instances the plan named out of service, in bulk and without waiting: tags them as this
 * execution's, deregisters them from the group's target groups, then detaches them from the group decrementing desired capacity (20 per call). Auto Scaling
 * deregisters them and lets their target groups drain them while the next wave already launches; each
 * later wave, and the execution's last steps (reapRetired), terminate them once drained. Never below the floor, checked against
 * the group as it is now (BelowFloorError: the state machine waits for capacity, then rolls back). Skips
 * instances that are quarantined, no longer in the group or already leaving it, so a retry is safe.
 */
async function retireStep({ executionId, groupName, instanceIds, floor }: typeof RetireInputSchema._output) {
  const group = await readGroup(groupName);
  const details = await describeInstances(instanceIds);
  const { live, skipped } = liveMembers(instanceIds, group, details);
  if (live.length > 0) {
    const serving = servingMembers(
      group,
      await describeHealthAcross(
        group.targetGroupArns,
        group.instances.map((instance) => instance.instanceId),
      ),
    );
    const verdict = floorVerdict(serving, live, floor);
    if (!verdict.allowed) throw new BelowFloorError(verdict.reason, { groupName, instanceIds: live, floor });
  }
  // A retry finds the ones it tagged before: their draining started then, and their tags stay as they are.
  const tagged = new Set(
    details.filter((detail) => detail.tags[RETIRING_TAG] === executionId).map((detail) => detail.instanceId),
  );
  for (const chunk of batches(
    live.filter((instanceId) => !tagged.has(instanceId)),
    PER_CALL.createTags,
  ))
    await tagResources(chunk, { [RETIRING_TAG]: executionId, [RETIRED_AT_TAG]: now().toISOString() });
  // All of them start draining now, in a few calls; detaching (20 per call, at Auto Scaling's request rate)
  // would start the last ones' drain only when it reached them. Should detaching then fail, the rollback
  // registers the ones still in service again.
  for (const arn of group.targetGroupArns)
    for (const chunk of batches(live, PER_CALL.deregisterTargets)) await deregisterTargets(arn, chunk);
  for (const chunk of batches(live, PER_CALL.detachInstances)) await detachInstances(groupName, chunk, true);
  // Earlier waves' instances that have drained since need not run until the end.
  const { terminate: drained } = planReap(await findTaggedInstances(RETIRING_TAG, executionId), group);
  for (const chunk of batches(drained, PER_CALL.terminateInstances)) await terminateInstances(chunk);
  // Each detach decremented desired capacity by one.
  const desiredAfter = group.desiredCapacity - live.length;
  logger.info("instances out of service", { retiring: live, skipped, terminated: drained, desiredAfter });
  return { retiring: live, skipped, terminated: drained, retiredAt: now().toISOString(), desiredAfter };
}

export const handler = phoenixHandler(RetireInputSchema, retireStep);
