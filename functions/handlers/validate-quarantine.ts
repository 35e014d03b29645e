import * as z from "zod";
import { groupsOfInstances } from "../aws/autoscaling";
import { resolveLaunchTemplateVersion } from "../aws/ec2";
import { describeTargetGroupTimings } from "../aws/elbv2";
import { readGroupWithInstances } from "../aws/fleet";
import { describeSuspects } from "../aws/isolation";
import { groupPolicy } from "../engine/policy";
import { planQuarantine, QuarantineRequestSchema } from "../engine/quarantine";
import type { GroupSnapshot, ReplacementTarget } from "../engine/types";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const ValidateInputSchema = z.object({ executionId: z.string().min(1), request: QuarantineRequestSchema });

/**
 * Read-only first step of a quarantine: the instances exist and are not quarantined yet, they belong to one
 * managed group (or none), and the group's capacity is worked out. A dry run stops here.
 */
async function validateStep({ executionId, request }: z.output<typeof ValidateInputSchema>) {
  const groupOf = await groupsOfInstances(request.instanceIds);
  const instances = await describeSuspects(request.instanceIds, groupOf);
  const groupName = instances.find((instance) => instance.groupName)?.groupName;
  let group: GroupSnapshot | undefined;
  let target: ReplacementTarget | undefined;
  let drainSeconds = 0;
  if (groupName) {
    group = await readGroupWithInstances(groupName);
    if (group.launchTemplate)
      target = await resolveLaunchTemplateVersion(
        group.launchTemplate.launchTemplateId,
        group.launchTemplate.version,
      );
    drainSeconds = Math.max(
      0,
      ...(await describeTargetGroupTimings(group.targetGroupArns)).map(
        (timing) => timing.deregistrationDelaySeconds,
      ),
    );
  }
  const plan = planQuarantine({
    request,
    instances,
    group,
    target,
    policy: group ? groupPolicy(group.tags) : undefined,
    drainSeconds,
    now: now(),
  });
  logger.info("quarantine planned", {
    caseId: plan.caseId,
    instanceIds: plan.instanceIds,
    group: plan.group?.groupName,
    raiseBy: plan.group?.raiseBy,
    dryRun: request.dryRun,
  });
  return { executionId, request, plan };
}

export const handler = phoenixHandler(ValidateInputSchema, validateStep);
