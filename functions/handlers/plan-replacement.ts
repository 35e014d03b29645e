import * as z from "zod";
import { resolveLaunchTemplateVersion } from "../aws/ec2";
import { describeTargetGroupTimings } from "../aws/elbv2";
import { readGroupWithInstances } from "../aws/fleet";
import { LaunchTemplateVersionNotFoundError } from "../engine/errors";
import { assertReplaceable, planReplacement } from "../engine/plan";
import { groupPolicy, ReplacementRequestSchema } from "../engine/policy";
import type { LaunchTemplateRef } from "../engine/types";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const PlanInputSchema = z.object({ executionId: z.string().min(1), request: ReplacementRequestSchema });

/** Step 1, read-only: validate the request, read the group and plan the waves. Dry runs stop after it. */
async function planStep({ executionId, request }: z.output<typeof PlanInputSchema>) {
  const group = await readGroupWithInstances(request.groupName);
  assertReplaceable(group);
  const template = group.launchTemplate as LaunchTemplateRef;
  const version = request.targetVersion ?? template.version;
  const target = await resolveLaunchTemplateVersion(template.launchTemplateId, version);
  if (!target) throw new LaunchTemplateVersionNotFoundError(template.launchTemplateId, version);
  const targetGroups = await describeTargetGroupTimings(group.targetGroupArns);
  const plan = planReplacement({
    group,
    target,
    reason: request.reason,
    instanceIds: request.instanceIds,
    policy: request.policy ?? groupPolicy(group.tags),
    targetGroups,
    now: now(),
  });
  logger.info("planned replacement", {
    reason: plan.reason,
    targetVersion: plan.target.version,
    instancesToReplace: plan.instancesToReplace,
    waves: plan.waves.length,
    capacity: plan.capacity,
    dryRun: request.dryRun,
  });
  return { executionId, groupName: request.groupName, request, plan };
}

export const handler = phoenixHandler(PlanInputSchema, planStep);
