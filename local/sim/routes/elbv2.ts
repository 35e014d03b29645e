// Elastic Load Balancing v2: target health, registration and draining, target group settings.
import { SimAwsError, type SimWorld } from "../world";
import { type Route, route } from "./route";

function targetGroupOf(world: SimWorld, arn: string) {
  const targetGroup = world.targetGroups.get(arn);
  if (!targetGroup) throw new SimAwsError("TargetGroupNotFound", `Target groups '${arn}' not found`);
  return targetGroup;
}

/** Elastic Load Balancing v2 operations. */
export const elbv2Routes: Route[] = [
  route("elbv2", "DescribeTargetHealth", "elbv2:describe", false, (world, input) => {
    const targetGroup = targetGroupOf(world, input.TargetGroupArn);
    const ids: string[] = input.Targets
      ? input.Targets.map((target: { Id: string }) => target.Id)
      : [...targetGroup.targets.keys()];
    return {
      TargetHealthDescriptions: ids.map((id) => {
        const target = targetGroup.targets.get(id);
        return {
          Target: { Id: id, Port: 80 },
          HealthCheckPort: "80",
          TargetHealth: target
            ? { State: target.state, Reason: target.reason }
            : {
                State: "unused",
                Reason: "Target.NotRegistered",
                Description: "Target is not registered to the target group",
              },
        };
      }),
    };
  }),
  route("elbv2", "RegisterTargets", "elbv2:mutate", true, (world, input) => {
    const targetGroup = targetGroupOf(world, input.TargetGroupArn);
    for (const target of input.Targets as { Id: string }[]) {
      const instance = world.instances.get(target.Id);
      if (instance?.state !== "running") {
        throw new SimAwsError(
          "InvalidTarget",
          `The following targets are not in a running state and cannot be registered: '${target.Id}'`,
        );
      }
      world.registerTarget(targetGroup.targetGroupArn, target.Id);
    }
    return {};
  }),
  route("elbv2", "DeregisterTargets", "elbv2:mutate", true, (world, input) => {
    const targetGroup = targetGroupOf(world, input.TargetGroupArn);
    for (const target of input.Targets as { Id: string }[])
      world.deregisterTarget(targetGroup.targetGroupArn, target.Id);
    return {};
  }),
  route("elbv2", "DescribeTargetGroups", "elbv2:describe", false, (world, input) => {
    const arns: string[] = input.TargetGroupArns ?? [...world.targetGroups.keys()];
    return {
      TargetGroups: arns.map((arn) => {
        const targetGroup = targetGroupOf(world, arn);
        return {
          TargetGroupArn: arn,
          TargetGroupName: targetGroup.targetGroupName,
          Protocol: "HTTP",
          Port: 80,
          HealthCheckIntervalSeconds: targetGroup.healthCheckIntervalSeconds,
          HealthyThresholdCount: targetGroup.healthyThresholdCount,
          UnhealthyThresholdCount: targetGroup.unhealthyThresholdCount,
          HealthCheckPath: "/health",
          TargetType: "instance",
        };
      }),
    };
  }),
  route("elbv2", "DescribeTargetGroupAttributes", "elbv2:describe", false, (world, input) => {
    const targetGroup = targetGroupOf(world, input.TargetGroupArn);
    return {
      Attributes: [
        {
          Key: "deregistration_delay.timeout_seconds",
          Value: String(targetGroup.deregistrationDelaySeconds),
        },
        { Key: "stickiness.enabled", Value: "false" },
      ],
    };
  }),
];
