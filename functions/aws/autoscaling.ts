import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  ResumeProcessesCommand,
  SetDesiredCapacityCommand,
  SetInstanceProtectionCommand,
  SuspendProcessesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import type { GroupSnapshot, InstanceSnapshot, LaunchTemplateRef } from "../engine/types";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const autoScaling = () => clientFor("autoScaling", () => new AutoScalingClient(sdkClientDefaults));

/** Converts an SDK group into the engine's snapshot (instances without EC2 details yet). */
export function toGroupSnapshot(group: AutoScalingGroup): GroupSnapshot {
  const template = group.LaunchTemplate;
  const launchTemplate: LaunchTemplateRef | undefined =
    template?.LaunchTemplateId || template?.LaunchTemplateName
      ? {
          launchTemplateId: template.LaunchTemplateId ?? "",
          launchTemplateName: template.LaunchTemplateName ?? "",
          version: template.Version ?? "$Default",
        }
      : undefined;
  const instances: InstanceSnapshot[] = (group.Instances ?? []).map((instance) => ({
    instanceId: instance.InstanceId ?? "",
    availabilityZone: instance.AvailabilityZone ?? "",
    lifecycleState: instance.LifecycleState ?? "",
    healthStatus: instance.HealthStatus ?? "",
    launchTemplateVersion: instance.LaunchTemplate?.Version,
    protectedFromScaleIn: instance.ProtectedFromScaleIn ?? false,
    tags: {},
  }));
  return {
    groupName: group.AutoScalingGroupName ?? "",
    minSize: group.MinSize ?? 0,
    maxSize: group.MaxSize ?? 0,
    desiredCapacity: group.DesiredCapacity ?? 0,
    launchTemplate,
    mixedInstancesPolicy: group.MixedInstancesPolicy !== undefined,
    availabilityZones: group.AvailabilityZones ?? [],
    targetGroupArns: group.TargetGroupARNs ?? [],
    suspendedProcesses: (group.SuspendedProcesses ?? []).flatMap((process) =>
      process.ProcessName ? [process.ProcessName] : [],
    ),
    tags: Object.fromEntries((group.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
    instances,
  };
}

/** Reads one group; undefined when it does not exist. */
export async function describeGroup(groupName: string): Promise<GroupSnapshot | undefined> {
  const response = await callAws("DescribeAutoScalingGroups", () =>
    autoScaling().send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] })),
  );
  const group = response.AutoScalingGroups?.[0];
  return group ? toGroupSnapshot(group) : undefined;
}

/** Every group tagged phoenix:managed=true (and, if given, on one image channel), following every page. */
export async function listManagedGroups(channel?: string): Promise<GroupSnapshot[]> {
  const filters = [{ Name: "tag:phoenix:managed", Values: ["true"] }];
  if (channel) filters.push({ Name: "tag:phoenix:image-channel", Values: [channel] });
  const groups: GroupSnapshot[] = [];
  let nextToken: string | undefined;
  do {
    const response = await callAws("DescribeAutoScalingGroups", () =>
      autoScaling().send(
        new DescribeAutoScalingGroupsCommand({ Filters: filters, MaxRecords: 100, NextToken: nextToken }),
      ),
    );
    groups.push(...(response.AutoScalingGroups ?? []).map(toGroupSnapshot));
    nextToken = response.NextToken;
  } while (nextToken);
  return groups;
}

/** Changes a group's launch template version, size limits and/or desired capacity in one call. */
export async function updateGroup(args: {
  groupName: string;
  launchTemplate?: { launchTemplateId: string; version: string };
  minSize?: number;
  maxSize?: number;
  desiredCapacity?: number;
}): Promise<void> {
  await callAws("UpdateAutoScalingGroup", () =>
    autoScaling().send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: args.groupName,
        LaunchTemplate: args.launchTemplate
          ? { LaunchTemplateId: args.launchTemplate.launchTemplateId, Version: args.launchTemplate.version }
          : undefined,
        MinSize: args.minSize,
        MaxSize: args.maxSize,
        DesiredCapacity: args.desiredCapacity,
      }),
    ),
  );
}

/**
 * Changes only a group's size limits and/or desired capacity. Its own function, because pointing a group at
 * a launch template (updateGroup with launchTemplate) makes AWS authorize launching from it too, and a
 * function that only resizes must not hold that permission (deploy/permissions.ts reads the call's shape).
 */
export async function resizeGroup(args: {
  groupName: string;
  minSize?: number;
  maxSize?: number;
  desiredCapacity?: number;
}): Promise<void> {
  await callAws("UpdateAutoScalingGroup", () =>
    autoScaling().send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: args.groupName,
        MinSize: args.minSize,
        MaxSize: args.maxSize,
        DesiredCapacity: args.desiredCapacity,
      }),
    ),
  );
}

/** Sets desired capacity (ignoring cooldowns: a rollout is not a scaling decision). */
export async function setDesiredCapacity(groupName: string, desiredCapacity: number): Promise<void> {
  await callAws("SetDesiredCapacity", () =>
    autoScaling().send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: groupName,
        DesiredCapacity: desiredCapacity,
        HonorCooldown: false,
      }),
    ),
  );
}

/** Suspends the named processes on a group (no call when the list is empty). */
export async function suspendProcesses(groupName: string, processes: string[]): Promise<void> {
  if (processes.length === 0) return;
  await callAws("SuspendProcesses", () =>
    autoScaling().send(
      new SuspendProcessesCommand({ AutoScalingGroupName: groupName, ScalingProcesses: processes }),
    ),
  );
}

/** Resumes the named processes on a group (no call when the list is empty). */
export async function resumeProcesses(groupName: string, processes: string[]): Promise<void> {
  if (processes.length === 0) return;
  await callAws("ResumeProcesses", () =>
    autoScaling().send(
      new ResumeProcessesCommand({ AutoScalingGroupName: groupName, ScalingProcesses: processes }),
    ),
  );
}

/** Terminates one instance through its group, optionally decrementing desired capacity. */
export async function terminateInstanceInGroup(
  instanceId: string,
  decrementDesiredCapacity: boolean,
): Promise<void> {
  await callAws("TerminateInstanceInAutoScalingGroup", () =>
    autoScaling().send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: instanceId,
        ShouldDecrementDesiredCapacity: decrementDesiredCapacity,
      }),
    ),
  );
}

/** The group each instance belongs to (instances in no group are absent). */
export async function groupsOfInstances(
  instanceIds: string[],
): Promise<Map<string, { groupName: string; lifecycleState?: string }>> {
  const memberships = new Map<string, { groupName: string; lifecycleState?: string }>();
  for (let start = 0; start < instanceIds.length; start += 50) {
    const response = await callAws("DescribeAutoScalingInstances", () =>
      autoScaling().send(
        new DescribeAutoScalingInstancesCommand({ InstanceIds: instanceIds.slice(start, start + 50) }),
      ),
    );
    for (const instance of response.AutoScalingInstances ?? []) {
      if (instance.InstanceId && instance.AutoScalingGroupName)
        memberships.set(instance.InstanceId, {
          groupName: instance.AutoScalingGroupName,
          lifecycleState: instance.LifecycleState,
        });
    }
  }
  return memberships;
}

/** Protects instances from scale-in (or lifts the protection). */
export async function setScaleInProtection(
  groupName: string,
  instanceIds: string[],
  protectedFromScaleIn: boolean,
): Promise<void> {
  await callAws("SetInstanceProtection", () =>
    autoScaling().send(
      new SetInstanceProtectionCommand({
        AutoScalingGroupName: groupName,
        InstanceIds: instanceIds,
        ProtectedFromScaleIn: protectedFromScaleIn,
      }),
    ),
  );
}

/** Detaches instances from their group; without a decrement the group launches replacements. */
export async function detachInstances(
  groupName: string,
  instanceIds: string[],
  decrement: boolean,
): Promise<void> {
  if (instanceIds.length === 0) return;
  await callAws("DetachInstances", () =>
    autoScaling().send(
      new DetachInstancesCommand({
        AutoScalingGroupName: groupName,
        InstanceIds: instanceIds,
        ShouldDecrementDesiredCapacity: decrement,
      }),
    ),
  );
}
