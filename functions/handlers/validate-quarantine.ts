import * as z from "zod";
import { groupsOfInstances } from "../aws/autoscaling";
import { resolveLaunchTemplateVersion } from "../aws/ec2";
import { describeTargetGroupTimings } from "../aws/elbv2";
import { readGroupWithInstances } from "../aws/fleet";
import { describeSubnets, describeSuspects } from "../aws/suspects";
import { groupPolicy } from "../engine/policy";
import { planQuarantine, QuarantineRequestSchema } from "../engine/quarantine";
import type { GroupSnapshot, ReplacementTarget } from "../engine/types";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const ValidateInputSchema = z.object({ executionId: z.string().min(1), request: QuarantineRequestSchema });

/**
 * Read-only first step of a quarantine: the instances exist and are not quarantined yet, they belong to one
 * managed group (or none), the group's capacity is worked out, and how they will be contained (the stack's
 * settings, and in network ACL mode which subnets may be cut off and what else is in them). A dry run stops
 * here.
 */
async function validateStep({ executionId, request }: z.output<typeof ValidateInputSchema>) {
  const settings = config();
  const options = {
    networkAcl: settings.PHOENIX_ISOLATION_NETWORK_ACL,
    revokeCredentials: settings.PHOENIX_REVOKE_CREDENTIALS,
    isolationProfileArn: settings.PHOENIX_ISOLATION_PROFILE_ARN,
  };
  const groupOf = await groupsOfInstances(request.instanceIds);
  const instances = await describeSuspects(request.instanceIds, groupOf);
  if (options.networkAcl === "tagged-subnets") {
    const subnets = await describeSubnets(
      [...new Set(instances.map((instance) => instance.subnetId).filter(Boolean))],
      request.instanceIds,
    );
    for (const instance of instances) instance.subnet = subnets.get(instance.subnetId);
  }
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
    options,
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
