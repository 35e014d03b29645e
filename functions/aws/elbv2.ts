import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import type { TargetGroupTiming, TargetHealth, TargetState } from "../engine/types";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const elbv2 = () => clientFor("elbv2", () => new ElasticLoadBalancingV2Client(sdkClientDefaults));

// AWS defaults, used when a target group does not report a value.
const AWS_DEFAULT_DEREGISTRATION_DELAY = 300;

/** Health of the given instances (or every registered target) in one target group. */
export async function describeTargetHealth(
  targetGroupArn: string,
  instanceIds?: string[],
): Promise<TargetHealth[]> {
  if (instanceIds && instanceIds.length === 0) return [];
  const response = await callAws("DescribeTargetHealth", () =>
    elbv2().send(
      new DescribeTargetHealthCommand({
        TargetGroupArn: targetGroupArn,
        Targets: instanceIds?.map((id) => ({ Id: id })),
      }),
    ),
  );
  return (response.TargetHealthDescriptions ?? []).flatMap((description) => {
    const instanceId = description.Target?.Id;
    const state = description.TargetHealth?.State as TargetState | undefined;
    // AWS answers "unused / Target.NotRegistered" for an id that is not registered: that is no entry at all.
    if (!instanceId || !state || description.TargetHealth?.Reason === "Target.NotRegistered") return [];
    return [{ targetGroupArn, instanceId, state, reason: description.TargetHealth?.Reason }];
  });
}

/** Health of the given instances across several target groups, one call per group. */
export async function describeHealthAcross(
  targetGroupArns: string[],
  instanceIds: string[],
): Promise<TargetHealth[]> {
  const all: TargetHealth[] = [];
  for (const arn of targetGroupArns) all.push(...(await describeTargetHealth(arn, instanceIds)));
  return all;
}

/** Starts draining instances from a target group (existing connections finish within the delay). */
export async function deregisterTargets(targetGroupArn: string, instanceIds: string[]): Promise<void> {
  if (instanceIds.length === 0) return;
  await callAws("DeregisterTargets", () =>
    elbv2().send(
      new DeregisterTargetsCommand({
        TargetGroupArn: targetGroupArn,
        Targets: instanceIds.map((id) => ({ Id: id })),
      }),
    ),
  );
}

/** Registers instances with a target group again (used when a rollback returns old instances to service). */
export async function registerTargets(targetGroupArn: string, instanceIds: string[]): Promise<void> {
  if (instanceIds.length === 0) return;
  await callAws("RegisterTargets", () =>
    elbv2().send(
      new RegisterTargetsCommand({
        TargetGroupArn: targetGroupArn,
        Targets: instanceIds.map((id) => ({ Id: id })),
      }),
    ),
  );
}

/** Health-check thresholds and deregistration delay of each target group. */
export async function describeTargetGroupTimings(targetGroupArns: string[]): Promise<TargetGroupTiming[]> {
  if (targetGroupArns.length === 0) return [];
  const groups = await callAws("DescribeTargetGroups", () =>
    elbv2().send(new DescribeTargetGroupsCommand({ TargetGroupArns: targetGroupArns })),
  );
  const timings: TargetGroupTiming[] = [];
  for (const group of groups.TargetGroups ?? []) {
    const arn = group.TargetGroupArn ?? "";
    const attributes = await callAws("DescribeTargetGroupAttributes", () =>
      elbv2().send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })),
    );
    const delay = attributes.Attributes?.find(
      (item) => item.Key === "deregistration_delay.timeout_seconds",
    )?.Value;
    timings.push({
      targetGroupArn: arn,
      healthCheckIntervalSeconds: group.HealthCheckIntervalSeconds ?? 30,
      healthyThresholdCount: group.HealthyThresholdCount ?? 5,
      unhealthyThresholdCount: group.UnhealthyThresholdCount ?? 2,
      deregistrationDelaySeconds: delay === undefined ? AWS_DEFAULT_DEREGISTRATION_DELAY : Number(delay),
    });
  }
  return timings;
}
