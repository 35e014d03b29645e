// Auto Scaling: groups, their instances, processes, sizes, detaching and terminating members.
import type { SimGroup, SimInstance } from "../model";
import { SimAwsError, type SimWorld } from "../world";
import { page, type Route, route } from "./route";

const PROCESS_NAMES = [
  "Launch",
  "Terminate",
  "AddToLoadBalancer",
  "AlarmNotification",
  "AZRebalance",
  "HealthCheck",
  "InstanceRefresh",
  "ReplaceUnhealthy",
  "ScheduledActions",
];

function describeGroup(world: SimWorld, group: SimGroup) {
  return {
    AutoScalingGroupName: group.groupName,
    AutoScalingGroupARN: `arn:aws:autoscaling:${world.region}:${world.accountId}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${group.groupName}`,
    MinSize: group.minSize,
    MaxSize: group.maxSize,
    DesiredCapacity: group.desiredCapacity,
    DefaultCooldown: 300,
    LaunchTemplate: {
      LaunchTemplateId: group.launchTemplate.launchTemplateId,
      LaunchTemplateName: group.launchTemplate.launchTemplateName,
      Version: group.launchTemplate.version,
    },
    AvailabilityZones: group.availabilityZones,
    TargetGroupARNs: group.targetGroupArns,
    HealthCheckType: group.healthCheckType,
    HealthCheckGracePeriod: group.healthCheckGracePeriod,
    NewInstancesProtectedFromScaleIn: group.newInstancesProtectedFromScaleIn,
    Instances: group.instanceIds
      .map((id) => world.instances.get(id))
      .filter((instance): instance is SimInstance => !!instance)
      .map((instance) => ({
        InstanceId: instance.instanceId,
        InstanceType: instance.instanceType,
        AvailabilityZone: instance.availabilityZone,
        LifecycleState: instance.lifecycleState,
        HealthStatus: instance.healthStatus,
        LaunchTemplate: instance.launchTemplate
          ? {
              LaunchTemplateId: instance.launchTemplate.launchTemplateId,
              LaunchTemplateName: instance.launchTemplate.launchTemplateName,
              Version: instance.launchTemplate.version,
            }
          : undefined,
        ProtectedFromScaleIn: instance.protectedFromScaleIn,
      })),
    SuspendedProcesses: [...group.suspendedProcesses].map((name) => ({
      ProcessName: name,
      SuspensionReason: "User suspended",
    })),
    Tags: [...group.tags].map(([Key, Value]) => ({
      Key,
      Value,
      ResourceId: group.groupName,
      ResourceType: "auto-scaling-group",
      PropagateAtLaunch: true,
    })),
    TerminationPolicies: ["Default"],
  };
}

function groupMatches(group: SimGroup, filters: { Name?: string; Values?: string[] }[] | undefined): boolean {
  return (filters ?? []).every((filter) => {
    const values = filter.Values ?? [];
    if (filter.Name === "tag-key") return values.some((key) => group.tags.has(key));
    if (filter.Name === "tag-value") return [...group.tags.values()].some((value) => values.includes(value));
    if (filter.Name?.startsWith("tag:")) {
      const value = group.tags.get(filter.Name.slice(4));
      return value !== undefined && values.includes(value);
    }
    throw new SimAwsError("ValidationError", `Filter name ${filter.Name} is not supported`);
  });
}

function groupMember(world: SimWorld, instanceId: string): { group: SimGroup; instance: SimInstance } {
  const instance = world.instances.get(instanceId);
  const group = instance?.groupName ? world.groups.get(instance.groupName) : undefined;
  if (!instance || !group?.instanceIds.includes(instanceId)) {
    throw new SimAwsError(
      "ValidationError",
      `Instance Id not found - No managed instance found for instance ID: ${instanceId}`,
    );
  }
  return { group, instance };
}

function processNames(input: { ScalingProcesses?: string[] }): string[] {
  const names =
    input.ScalingProcesses && input.ScalingProcesses.length > 0 ? input.ScalingProcesses : PROCESS_NAMES;
  const unknown = names.filter((name) => !PROCESS_NAMES.includes(name));
  if (unknown.length > 0)
    throw new SimAwsError("ValidationError", `Invalid process names: ${unknown.join(", ")}`);
  return names;
}

/** Auto Scaling operations. */
export const autoScalingRoutes: Route[] = [
  route("autoscaling", "DescribeAutoScalingInstances", "autoscaling:describe", false, (world, input) => ({
    AutoScalingInstances: (
      (input.InstanceIds as string[] | undefined) ?? [...world.instances.keys()]
    ).flatMap((id) => {
      const instance = world.instances.get(id);
      if (!instance?.groupName || !world.groups.get(instance.groupName)?.instanceIds.includes(id)) return [];
      return [
        {
          InstanceId: id,
          AutoScalingGroupName: instance.groupName,
          AvailabilityZone: instance.availabilityZone,
          LifecycleState: instance.lifecycleState,
          HealthStatus: instance.healthStatus === "Healthy" ? "HEALTHY" : "UNHEALTHY",
          ProtectedFromScaleIn: instance.protectedFromScaleIn,
          LaunchTemplate: instance.launchTemplate
            ? {
                LaunchTemplateId: instance.launchTemplate.launchTemplateId,
                Version: instance.launchTemplate.version,
              }
            : undefined,
        },
      ];
    }),
  })),
  route("autoscaling", "SetInstanceProtection", "autoscaling:mutate", true, (world, input) => {
    for (const id of input.InstanceIds as string[]) {
      const { group, instance } = groupMember(world, id);
      if (group.groupName !== input.AutoScalingGroupName)
        throw new SimAwsError("ValidationError", `Instance ${id} is not in ${input.AutoScalingGroupName}`);
      instance.protectedFromScaleIn = input.ProtectedFromScaleIn === true;
    }
    return {};
  }),
  route("autoscaling", "DetachInstances", "autoscaling:mutate", true, (world, input) => {
    const ids = input.InstanceIds as string[];
    if (ids.length > 20) {
      throw new SimAwsError(
        "ValidationError",
        "1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 20",
      );
    }
    const members = ids.map((id) => groupMember(world, id));
    const group = world.requireGroup(input.AutoScalingGroupName);
    if (members.some((member) => member.group !== group))
      throw new SimAwsError("ValidationError", "The instance is not part of this Auto Scaling group");
    if (input.ShouldDecrementDesiredCapacity && group.desiredCapacity - ids.length < group.minSize) {
      throw new SimAwsError(
        "ValidationError",
        `Detaching ${ids.length} instances with decrement would take desired capacity below min size ${group.minSize}`,
      );
    }
    for (const { instance } of members) {
      if (instance.lifecycleState !== "InService" && instance.lifecycleState !== "Standby") {
        throw new SimAwsError(
          "ValidationError",
          `The instance ${instance.instanceId} is not in InService or Standby (it is ${instance.lifecycleState})`,
        );
      }
    }
    for (const { instance } of members)
      world.detachFromGroup(instance, input.ShouldDecrementDesiredCapacity === true);
    return {
      Activities: members.map(({ instance }) => ({
        ActivityId: world.random.hex(32),
        AutoScalingGroupName: group.groupName,
        Cause: `Detaching ${instance.instanceId}`,
        StartTime: new Date(world.clock.now()),
        StatusCode: "InProgress",
      })),
    };
  }),
  route("autoscaling", "DescribeAutoScalingGroups", "autoscaling:describe", false, (world, input) => {
    const names: string[] | undefined = input.AutoScalingGroupNames;
    const groups = [...world.groups.values()]
      .filter((group) => !names || names.length === 0 || names.includes(group.groupName))
      .filter((group) => groupMatches(group, input.Filters))
      .sort((a, b) => a.groupName.localeCompare(b.groupName));
    const size = Math.min(input.MaxRecords ?? 50, 100);
    const { items, nextToken } = page(groups, input.NextToken, size);
    return { AutoScalingGroups: items.map((group) => describeGroup(world, group)), NextToken: nextToken };
  }),
  route("autoscaling", "UpdateAutoScalingGroup", "autoscaling:mutate", true, (world, input) => {
    const group = world.requireGroup(input.AutoScalingGroupName);
    if (input.LaunchTemplate) {
      const id = input.LaunchTemplate.LaunchTemplateId;
      const version = input.LaunchTemplate.Version ?? "$Default";
      if (!world.resolveVersion(id, version)) {
        throw new SimAwsError(
          "ValidationError",
          `You must use a valid fully-formed launch template. Launch template ${id} version ${version} does not exist`,
        );
      }
    }
    const minSize: number = input.MinSize ?? group.minSize;
    const maxSize: number = input.MaxSize ?? group.maxSize;
    if (minSize > maxSize)
      throw new SimAwsError(
        "ValidationError",
        `Max bound, ${maxSize}, must be greater than or equal to min bound, ${minSize}`,
      );
    // As AWS documents: a new MinSize above, or MaxSize below, the current size moves desired capacity with it.
    let desired: number =
      input.DesiredCapacity ?? Math.min(Math.max(group.desiredCapacity, minSize), maxSize);
    if (input.DesiredCapacity !== undefined && (desired < minSize || desired > maxSize)) {
      throw new SimAwsError(
        "ValidationError",
        `Desired capacity:${desired} must be between the specified min size:${minSize} and max size:${maxSize}`,
      );
    }
    desired = Math.min(Math.max(desired, minSize), maxSize);
    const versionBefore = group.launchTemplate.version;
    if (input.LaunchTemplate) {
      const template = world.launchTemplates.get(input.LaunchTemplate.LaunchTemplateId);
      group.launchTemplate = {
        launchTemplateId: input.LaunchTemplate.LaunchTemplateId,
        launchTemplateName: template?.launchTemplateName ?? "",
        version: input.LaunchTemplate.Version ?? "$Default",
      };
    }
    const before = { minSize: group.minSize, maxSize: group.maxSize, version: versionBefore };
    group.minSize = minSize;
    group.maxSize = maxSize;
    world.record({
      kind: "group-updated",
      groupName: group.groupName,
      message: `group updated: launch template version ${group.launchTemplate.version}, min ${minSize}, max ${maxSize}`,
      data: { before, after: { minSize, maxSize, version: group.launchTemplate.version } },
    });
    world.setDesired(group, desired, "UpdateAutoScalingGroup");
    return {};
  }),
  route("autoscaling", "SetDesiredCapacity", "autoscaling:mutate", true, (world, input) => {
    const group = world.requireGroup(input.AutoScalingGroupName);
    world.setDesired(group, input.DesiredCapacity, "SetDesiredCapacity");
    return {};
  }),
  route("autoscaling", "SuspendProcesses", "autoscaling:mutate", true, (world, input) => {
    const group = world.requireGroup(input.AutoScalingGroupName);
    const names = processNames(input);
    for (const name of names) group.suspendedProcesses.add(name);
    world.record({
      kind: "processes",
      groupName: group.groupName,
      message: `suspended ${names.join(", ")}`,
      data: { suspended: names },
    });
    return {};
  }),
  route("autoscaling", "ResumeProcesses", "autoscaling:mutate", true, (world, input) => {
    const group = world.requireGroup(input.AutoScalingGroupName);
    const names = processNames(input);
    for (const name of names) group.suspendedProcesses.delete(name);
    world.record({
      kind: "processes",
      groupName: group.groupName,
      message: `resumed ${names.join(", ")}`,
      data: { resumed: names },
    });
    world.scheduleReconcile(group);
    return {};
  }),
  route("autoscaling", "TerminateInstanceInAutoScalingGroup", "autoscaling:mutate", true, (world, input) => {
    const { group, instance } = groupMember(world, input.InstanceId);
    if (instance.lifecycleState?.startsWith("Terminating") || instance.lifecycleState === "Terminated") {
      throw new SimAwsError(
        "ValidationError",
        `The instance ${instance.instanceId} is already ${instance.lifecycleState}`,
      );
    }
    if (input.ShouldDecrementDesiredCapacity) {
      if (group.desiredCapacity - 1 < group.minSize) {
        throw new SimAwsError(
          "ValidationError",
          `Currently, desiredCapacity ${group.desiredCapacity} is equal to minSize ${group.minSize}. Terminating instance without replacement will violate group's min size constraint.`,
        );
      }
      group.desiredCapacity -= 1;
      group.desiredSetBy = { actor: world.actor, caller: world.caller };
      world.record({
        kind: "desired-changed",
        groupName: group.groupName,
        message: `desired capacity ${group.desiredCapacity + 1} -> ${group.desiredCapacity} (terminate ${instance.instanceId})`,
        data: { from: group.desiredCapacity + 1, to: group.desiredCapacity },
      });
    }
    world.terminateFromGroup(
      instance,
      input.ShouldDecrementDesiredCapacity ? "terminated by request, decrementing" : "terminated by request",
    );
    if (!input.ShouldDecrementDesiredCapacity) world.scheduleReconcile(group);
    return {
      Activity: {
        ActivityId: world.random.hex(32),
        AutoScalingGroupName: group.groupName,
        Cause: `Terminating instance ${instance.instanceId}`,
        StartTime: new Date(world.clock.now()),
        StatusCode: "InProgress",
      },
    };
  }),
];
