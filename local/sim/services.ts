// The simulated AWS APIs: each route answers one SDK command from the world's state, with the shapes and
// the errors the real service uses. Routes are plain functions of (world, input) so the fault-injection
// campaign and the tests can reason about them without any SDK machinery.
import type { SimGroup, SimInstance, SimTemplateVersion } from "./model";
import { SimAwsError, type SimWorld } from "./world";

/** One simulated API operation. */
export interface Route {
  service: "autoscaling" | "ec2" | "elbv2" | "cloudwatch" | "events" | "sfn" | "imagebuilder" | "ssm";
  operation: string;
  /** Request bucket the call draws from. */
  bucket: string;
  /** The service's throttling error code. */
  throttleCode: string;
  /** True when the call changes something (dry runs must make none). */
  mutating: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: inputs are the SDK's command inputs, checked per route
  answer: (world: SimWorld, input: any) => unknown;
}

const THROTTLE = {
  autoscaling: "Throttling",
  ec2: "RequestLimitExceeded",
  elbv2: "Throttling",
  cloudwatch: "Throttling",
  events: "ThrottlingException",
  sfn: "ThrottlingException",
  imagebuilder: "TooManyRequestsException",
  ssm: "ThrottlingException",
} as const;

function route(
  service: Route["service"],
  operation: string,
  bucket: string,
  mutating: boolean,
  answer: Route["answer"],
): Route {
  return { service, operation, bucket, throttleCode: THROTTLE[service], mutating, answer };
}

const tagList = (tags: Map<string, string>) => [...tags].map(([Key, Value]) => ({ Key, Value }));

const EC2_STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

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

/** A token for pagination: the index of the next item. */
function page<T>(
  items: T[],
  nextToken: string | undefined,
  size: number,
): { items: T[]; nextToken?: string } {
  const start = nextToken ? Number(nextToken) : 0;
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw new SimAwsError("InvalidNextToken", "The specified token is invalid");
  }
  const end = start + size;
  return { items: items.slice(start, end), nextToken: end < items.length ? String(end) : undefined };
}

// ------------------------------------------------------------------ Auto Scaling

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

const autoScalingRoutes: Route[] = [
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
    if (input.LaunchTemplate) {
      const template = world.launchTemplates.get(input.LaunchTemplate.LaunchTemplateId);
      group.launchTemplate = {
        launchTemplateId: input.LaunchTemplate.LaunchTemplateId,
        launchTemplateName: template?.launchTemplateName ?? "",
        version: input.LaunchTemplate.Version ?? "$Default",
      };
    }
    group.minSize = minSize;
    group.maxSize = maxSize;
    world.record({
      kind: "group-updated",
      groupName: group.groupName,
      message: `group updated: launch template version ${group.launchTemplate.version}, min ${minSize}, max ${maxSize}`,
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
    world.record({ kind: "processes", groupName: group.groupName, message: `suspended ${names.join(", ")}` });
    return {};
  }),
  route("autoscaling", "ResumeProcesses", "autoscaling:mutate", true, (world, input) => {
    const group = world.requireGroup(input.AutoScalingGroupName);
    const names = processNames(input);
    for (const name of names) group.suspendedProcesses.delete(name);
    world.record({ kind: "processes", groupName: group.groupName, message: `resumed ${names.join(", ")}` });
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
      world.record({
        kind: "desired-changed",
        groupName: group.groupName,
        message: `desired capacity ${group.desiredCapacity + 1} -> ${group.desiredCapacity} (terminate ${instance.instanceId})`,
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

// ------------------------------------------------------------------ EC2

function describeInstance(world: SimWorld, instance: SimInstance) {
  const groupRef = (id: string) => ({ GroupId: id, GroupName: world.securityGroups.get(id)?.groupName });
  const gone = instance.state === "terminated";
  return {
    InstanceId: instance.instanceId,
    ImageId: instance.imageId,
    InstanceType: instance.instanceType,
    LaunchTime: new Date(instance.launchTime),
    State: { Code: EC2_STATE_CODES[instance.state], Name: instance.state },
    PrivateIpAddress: gone ? undefined : instance.privateIpAddress,
    Placement: { AvailabilityZone: instance.availabilityZone },
    VpcId: gone ? undefined : instance.vpcId,
    SubnetId: gone ? undefined : instance.subnetId,
    SecurityGroups: gone
      ? []
      : [...new Set(instance.networkInterfaces.flatMap((eni) => eni.groups))].map(groupRef),
    NetworkInterfaces: gone
      ? []
      : instance.networkInterfaces.map((eni) => ({
          NetworkInterfaceId: eni.networkInterfaceId,
          PrivateIpAddress: eni.privateIpAddress,
          Groups: eni.groups.map(groupRef),
          Association: eni.association ? { PublicIp: eni.association.publicIp } : undefined,
        })),
    IamInstanceProfile: instance.iamInstanceProfile
      ? { Arn: instance.iamInstanceProfile.arn, Id: `AIPA${instance.instanceId.slice(2, 18).toUpperCase()}` }
      : undefined,
    BlockDeviceMappings: instance.volumes.map((volume) => ({
      DeviceName: volume.deviceName,
      Ebs: { VolumeId: volume.volumeId, DeleteOnTermination: volume.deleteOnTermination, Status: "attached" },
    })),
    Tags: tagList(instance.tags),
  };
}

function instanceMatches(
  instance: SimInstance,
  filters: { Name?: string; Values?: string[] }[] | undefined,
): boolean {
  return (filters ?? []).every((filter) => {
    const values = filter.Values ?? [];
    if (filter.Name === "instance-id") return values.includes(instance.instanceId);
    if (filter.Name === "instance-state-name") return values.includes(instance.state);
    if (filter.Name === "image-id") return values.includes(instance.imageId);
    if (filter.Name?.startsWith("tag:")) {
      const value = instance.tags.get(filter.Name.slice(4));
      return value !== undefined && values.includes(value);
    }
    if (filter.Name === "tag-key") return values.some((key) => instance.tags.has(key));
    throw new SimAwsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);
  });
}

function launchTemplateOf(
  world: SimWorld,
  input: { LaunchTemplateId?: string; LaunchTemplateName?: string },
) {
  const template = input.LaunchTemplateId
    ? world.launchTemplates.get(input.LaunchTemplateId)
    : [...world.launchTemplates.values()].find(
        (item) => item.launchTemplateName === input.LaunchTemplateName,
      );
  if (!template) {
    throw new SimAwsError(
      input.LaunchTemplateId
        ? "InvalidLaunchTemplateId.NotFound"
        : "InvalidLaunchTemplateName.NotFoundException",
      `The specified launch template, with template ${input.LaunchTemplateId ? "ID" : "name"} ${input.LaunchTemplateId ?? input.LaunchTemplateName}, does not exist.`,
    );
  }
  return template;
}

const securityGroupOf = (world: SimWorld, id: string) => {
  const group = world.securityGroups.get(id);
  if (!group) throw new SimAwsError("InvalidGroup.NotFound", `The security group '${id}' does not exist`);
  return group;
};

const rulesOf = (
  permissions: {
    IpProtocol?: string;
    FromPort?: number;
    ToPort?: number;
    IpRanges?: { CidrIp?: string }[];
  }[] = [],
) =>
  permissions.flatMap((permission) =>
    (permission.IpRanges ?? []).map((range) => ({
      protocol: permission.IpProtocol ?? "-1",
      fromPort: permission.FromPort,
      toPort: permission.ToPort,
      cidr: range.CidrIp ?? "0.0.0.0/0",
    })),
  );

const permissionsOf = (rules: { protocol: string; fromPort?: number; toPort?: number; cidr: string }[]) =>
  rules.map((rule) => ({
    IpProtocol: rule.protocol,
    FromPort: rule.fromPort,
    ToPort: rule.toPort,
    IpRanges: [{ CidrIp: rule.cidr }],
  }));

const sameRule = (a: { protocol: string; fromPort?: number; toPort?: number; cidr: string }, b: typeof a) =>
  a.protocol === b.protocol &&
  a.cidr === b.cidr &&
  (a.fromPort ?? -1) === (b.fromPort ?? -1) &&
  (a.toPort ?? -1) === (b.toPort ?? -1);

const tagsOf = (
  specifications: { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[] | undefined,
  type: string,
) =>
  Object.fromEntries(
    (specifications ?? [])
      .filter((spec) => spec.ResourceType === type)
      .flatMap((spec) => (spec.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
  );

const isolationRoutes: Route[] = [
  route("ec2", "DescribeSecurityGroups", "ec2:describe", false, (world, input) => {
    const filters = (input.Filters ?? []) as { Name: string; Values: string[] }[];
    const ids = input.GroupIds as string[] | undefined;
    const groups = [...world.securityGroups.values()].filter(
      (group) =>
        (!ids || ids.includes(group.groupId)) &&
        filters.every((filter) => {
          if (filter.Name === "group-name") return filter.Values.includes(group.groupName);
          if (filter.Name === "vpc-id") return filter.Values.includes(group.vpcId);
          if (filter.Name === "group-id") return filter.Values.includes(group.groupId);
          throw new SimAwsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);
        }),
    );
    if (ids) for (const id of ids) securityGroupOf(world, id);
    return {
      SecurityGroups: groups.map((group) => ({
        GroupId: group.groupId,
        GroupName: group.groupName,
        VpcId: group.vpcId,
        Description: group.description,
        IpPermissions: permissionsOf(group.ingress),
        IpPermissionsEgress: permissionsOf(group.egress),
        Tags: tagList(group.tags),
      })),
    };
  }),
  route("ec2", "CreateSecurityGroup", "ec2:mutate", true, (world, input) => {
    if (
      [...world.securityGroups.values()].some(
        (group) => group.groupName === input.GroupName && group.vpcId === input.VpcId,
      )
    ) {
      throw new SimAwsError(
        "InvalidGroup.Duplicate",
        `The security group '${input.GroupName}' already exists for VPC '${input.VpcId}'`,
      );
    }
    const groupId = world.newId("sg");
    // A new group allows all traffic out and nothing in, as EC2 creates it.
    world.securityGroups.set(groupId, {
      groupId,
      groupName: input.GroupName,
      vpcId: input.VpcId,
      description: input.Description,
      ingress: [],
      egress: [{ protocol: "-1", cidr: "0.0.0.0/0" }],
      tags: new Map(Object.entries(tagsOf(input.TagSpecifications, "security-group"))),
    });
    return { GroupId: groupId };
  }),
  route("ec2", "AuthorizeSecurityGroupIngress", "ec2:mutate", true, (world, input) => {
    const group = securityGroupOf(world, input.GroupId);
    for (const rule of rulesOf(input.IpPermissions))
      if (!group.ingress.some((item) => sameRule(item, rule))) group.ingress.push(rule);
    return { Return: true };
  }),
  route("ec2", "RevokeSecurityGroupEgress", "ec2:mutate", true, (world, input) => {
    const group = securityGroupOf(world, input.GroupId);
    const revoked = rulesOf(input.IpPermissions);
    group.egress = group.egress.filter((rule) => !revoked.some((item) => sameRule(item, rule)));
    return { Return: true };
  }),
  route("ec2", "ModifyNetworkInterfaceAttribute", "ec2:mutate", true, (world, input) => {
    const instance = [...world.instances.values()].find((item) =>
      item.networkInterfaces.some((eni) => eni.networkInterfaceId === input.NetworkInterfaceId),
    );
    if (!instance)
      throw new SimAwsError(
        "InvalidNetworkInterfaceID.NotFound",
        `The networkInterface ID '${input.NetworkInterfaceId}' does not exist`,
      );
    if (input.Groups) world.setInterfaceGroups(instance, input.NetworkInterfaceId, input.Groups);
    return {};
  }),
  route("ec2", "DescribeAddresses", "ec2:describe", false, (world, input) => {
    const filters = (input.Filters ?? []) as { Name: string; Values: string[] }[];
    return {
      Addresses: [...world.addresses.values()]
        .filter((address) =>
          filters.every((filter) => {
            if (filter.Name === "instance-id")
              return !!address.instanceId && filter.Values.includes(address.instanceId);
            if (filter.Name === "allocation-id") return filter.Values.includes(address.allocationId);
            throw new SimAwsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);
          }),
        )
        .map((address) => ({
          AllocationId: address.allocationId,
          PublicIp: address.publicIp,
          AssociationId: address.associationId,
          InstanceId: address.instanceId,
          NetworkInterfaceId: address.networkInterfaceId,
          Domain: "vpc",
        })),
    };
  }),
  route("ec2", "DisassociateAddress", "ec2:mutate", true, (world, input) => {
    const address = [...world.addresses.values()].find((item) => item.associationId === input.AssociationId);
    if (!address)
      throw new SimAwsError(
        "InvalidAssociationID.NotFound",
        `The association ID '${input.AssociationId}' does not exist`,
      );
    const instance = address.instanceId ? world.instances.get(address.instanceId) : undefined;
    for (const eni of instance?.networkInterfaces ?? [])
      if (eni.association?.associationId === input.AssociationId) eni.association = undefined;
    Object.assign(address, {
      associationId: undefined,
      instanceId: undefined,
      networkInterfaceId: undefined,
    });
    return {};
  }),
  route("ec2", "AssociateAddress", "ec2:mutate", true, (world, input) => {
    const address = world.addresses.get(input.AllocationId);
    if (!address)
      throw new SimAwsError(
        "InvalidAllocationID.NotFound",
        `The allocation ID '${input.AllocationId}' does not exist`,
      );
    if (address.associationId)
      throw new SimAwsError("Resource.AlreadyAssociated", `${input.AllocationId} is already associated`);
    const instance = [...world.instances.values()].find((item) =>
      item.networkInterfaces.some((eni) => eni.networkInterfaceId === input.NetworkInterfaceId),
    );
    const eni = instance?.networkInterfaces.find(
      (item) => item.networkInterfaceId === input.NetworkInterfaceId,
    );
    if (!instance || !eni)
      throw new SimAwsError(
        "InvalidNetworkInterfaceID.NotFound",
        `The networkInterface ID '${input.NetworkInterfaceId}' does not exist`,
      );
    const associationId = world.newId("eipassoc");
    Object.assign(address, {
      associationId,
      instanceId: instance.instanceId,
      networkInterfaceId: eni.networkInterfaceId,
    });
    eni.association = { allocationId: address.allocationId, associationId, publicIp: address.publicIp };
    return { AssociationId: associationId };
  }),
  route("ec2", "DescribeIamInstanceProfileAssociations", "ec2:describe", false, (world, input) => {
    const filters = (input.Filters ?? []) as { Name: string; Values: string[] }[];
    const ids = filters.find((filter) => filter.Name === "instance-id")?.Values ?? [
      ...world.instances.keys(),
    ];
    return {
      IamInstanceProfileAssociations: ids.flatMap((id) => {
        const profile = world.instances.get(id)?.iamInstanceProfile;
        return profile
          ? [
              {
                AssociationId: profile.associationId,
                InstanceId: id,
                IamInstanceProfile: { Arn: profile.arn },
                State: "associated",
              },
            ]
          : [];
      }),
    };
  }),
  route("ec2", "DisassociateIamInstanceProfile", "ec2:mutate", true, (world, input) => {
    const instance = instanceWithAssociation(world, input.AssociationId);
    instance.iamInstanceProfile = undefined;
    return {};
  }),
  route("ec2", "AssociateIamInstanceProfile", "ec2:mutate", true, (world, input) => {
    const instance = world.requireInstance(input.InstanceId);
    const arn = knownInstanceProfile(world, input.IamInstanceProfile);
    if (instance.iamInstanceProfile)
      throw new SimAwsError(
        "IncorrectState",
        `There is an existing association for instance ${instance.instanceId}`,
      );
    return associateInstanceProfile(world, instance, arn);
  }),
  route("ec2", "ReplaceIamInstanceProfileAssociation", "ec2:mutate", true, (world, input) => {
    const instance = instanceWithAssociation(world, input.AssociationId);
    return associateInstanceProfile(world, instance, knownInstanceProfile(world, input.IamInstanceProfile));
  }),
  route("ec2", "ModifyInstanceAttribute", "ec2:mutate", true, (world, input) => {
    const instance = world.requireInstance(input.InstanceId);
    if (input.DisableApiTermination)
      instance.disableApiTermination = input.DisableApiTermination.Value === true;
    if (input.InstanceInitiatedShutdownBehavior)
      instance.shutdownBehavior = input.InstanceInitiatedShutdownBehavior.Value;
    for (const mapping of (input.BlockDeviceMappings ?? []) as {
      DeviceName: string;
      Ebs?: { DeleteOnTermination?: boolean };
    }[]) {
      const volume = instance.volumes.find((item) => item.deviceName === mapping.DeviceName);
      if (!volume)
        throw new SimAwsError(
          "InvalidInstanceAttributeValue",
          `No device named ${mapping.DeviceName} on ${instance.instanceId}`,
        );
      if (mapping.Ebs?.DeleteOnTermination !== undefined)
        volume.deleteOnTermination = mapping.Ebs.DeleteOnTermination;
    }
    return {};
  }),
  route("ec2", "DescribeInstanceAttribute", "ec2:describe", false, (world, input) => {
    const instance = world.requireInstance(input.InstanceId);
    if (input.Attribute === "disableApiTermination")
      return {
        InstanceId: instance.instanceId,
        DisableApiTermination: { Value: instance.disableApiTermination },
      };
    if (input.Attribute === "instanceInitiatedShutdownBehavior")
      return {
        InstanceId: instance.instanceId,
        InstanceInitiatedShutdownBehavior: { Value: instance.shutdownBehavior },
      };
    throw new SimAwsError(
      "InvalidParameterValue",
      `Attribute ${input.Attribute} is not supported by the simulator`,
    );
  }),
  route("ec2", "CreateSnapshot", "ec2:CreateSnapshot", true, (world, input) => {
    const volume = [...world.instances.values()]
      .flatMap((instance) => instance.volumes)
      .find((item) => item.volumeId === input.VolumeId);
    if (!volume)
      throw new SimAwsError("InvalidVolume.NotFound", `The volume '${input.VolumeId}' does not exist.`);
    const snapshot = world.startSnapshot(
      volume,
      input.Description ?? "",
      tagsOf(input.TagSpecifications, "snapshot"),
    );
    return {
      SnapshotId: snapshot.snapshotId,
      VolumeId: volume.volumeId,
      State: snapshot.state,
      StartTime: new Date(snapshot.startTime),
      VolumeSize: volume.sizeGiB,
      Tags: tagList(snapshot.tags),
    };
  }),
  route("ec2", "DescribeSnapshots", "ec2:describe", false, (world, input) => {
    const ids = input.SnapshotIds as string[] | undefined;
    for (const id of ids ?? [])
      if (!world.snapshots.has(id))
        throw new SimAwsError("InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
    const filters = (input.Filters ?? []) as { Name: string; Values: string[] }[];
    const snapshots = [...world.snapshots.values()].filter(
      (snapshot) =>
        (!ids || ids.includes(snapshot.snapshotId)) &&
        filters.every((filter) => {
          if (filter.Name === "volume-id") return filter.Values.includes(snapshot.volumeId);
          const tag = filter.Name.startsWith("tag:") ? snapshot.tags.get(filter.Name.slice(4)) : undefined;
          if (filter.Name.startsWith("tag:")) return tag !== undefined && filter.Values.includes(tag);
          throw new SimAwsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);
        }),
    );
    return {
      Snapshots: snapshots.map((snapshot) => ({
        SnapshotId: snapshot.snapshotId,
        VolumeId: snapshot.volumeId,
        State: snapshot.state,
        Progress:
          snapshot.state === "completed"
            ? "100%"
            : `${Math.floor((100 * (world.clock.now() - snapshot.startTime)) / (snapshot.completesAt - snapshot.startTime))}%`,
        StartTime: new Date(snapshot.startTime),
        Description: snapshot.description,
        Tags: tagList(snapshot.tags),
      })),
    };
  }),
  route("ec2", "CreateTags", "ec2:CreateTags", true, (world, input) => {
    for (const id of input.Resources as string[]) {
      const tags =
        world.instances.get(id)?.tags ?? world.snapshots.get(id)?.tags ?? world.securityGroups.get(id)?.tags;
      if (!tags) throw new SimAwsError("InvalidID", `The ID '${id}' is not valid`);
      for (const tag of input.Tags as { Key: string; Value?: string }[]) tags.set(tag.Key, tag.Value ?? "");
    }
    return {};
  }),
  route("ec2", "DeleteTags", "ec2:CreateTags", true, (world, input) => {
    for (const id of input.Resources as string[]) {
      const tags = world.instances.get(id)?.tags ?? world.snapshots.get(id)?.tags;
      for (const tag of (input.Tags ?? []) as { Key: string }[]) tags?.delete(tag.Key);
    }
    return {};
  }),
  route("ec2", "TerminateInstances", "ec2:TerminateInstances", true, (world, input) => {
    const instances = (input.InstanceIds as string[]).map((id) => world.requireInstance(id));
    const protectedOne = instances.find((instance) => instance.disableApiTermination);
    if (protectedOne) {
      throw new SimAwsError(
        "OperationNotPermitted",
        `The instance '${protectedOne.instanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
      );
    }
    const before = instances.map((instance) => instance.state);
    for (const instance of instances) {
      if (instance.groupName) world.terminateFromGroup(instance, "TerminateInstances");
      else world.terminateEc2(instance);
    }
    return {
      TerminatingInstances: instances.map((instance, index) => ({
        InstanceId: instance.instanceId,
        PreviousState: { Name: before[index] },
        CurrentState: { Name: "shutting-down" },
      })),
    };
  }),
];

const ec2Routes: Route[] = [
  ...isolationRoutes,
  route("ec2", "DescribeInstances", "ec2:describe", false, (world, input) => {
    const ids: string[] | undefined = input.InstanceIds;
    for (const id of ids ?? []) {
      if (!world.instances.has(id))
        throw new SimAwsError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
    }
    const instances = [...world.instances.values()]
      .filter((instance) => !ids || ids.length === 0 || ids.includes(instance.instanceId))
      .filter((instance) => instanceMatches(instance, input.Filters));
    const { items, nextToken } = page(instances, input.NextToken, Math.min(input.MaxResults ?? 1000, 1000));
    return {
      Reservations: items.map((instance) => ({
        ReservationId: `r-${instance.instanceId.slice(2)}`,
        OwnerId: world.accountId,
        Instances: [describeInstance(world, instance)],
      })),
      NextToken: nextToken,
    };
  }),
  route("ec2", "DescribeLaunchTemplateVersions", "ec2:describe", false, (world, input) => {
    const template = launchTemplateOf(world, input);
    const describeVersion = (version: SimTemplateVersion) => ({
      LaunchTemplateId: template.launchTemplateId,
      LaunchTemplateName: template.launchTemplateName,
      VersionNumber: version.versionNumber,
      DefaultVersion: version.versionNumber === template.defaultVersion,
      CreateTime: new Date(version.createdAt),
      VersionDescription: version.description,
      LaunchTemplateData: { ImageId: version.imageId, InstanceType: version.instanceType },
    });
    if (!input.Versions) {
      const imageFilter = (input.Filters as { Name: string; Values: string[] }[] | undefined)?.find(
        (filter) => filter.Name === "image-id",
      );
      return {
        LaunchTemplateVersions: [...template.versions.values()]
          .filter((version) => !imageFilter || imageFilter.Values.includes(version.imageId))
          .sort((a, b) => b.versionNumber - a.versionNumber)
          .map(describeVersion),
      };
    }
    return {
      LaunchTemplateVersions: (input.Versions as string[]).map((version) => {
        const resolved = world.resolveVersion(template.launchTemplateId, version);
        if (!resolved) {
          throw new SimAwsError(
            "InvalidLaunchTemplateId.VersionNotFound",
            `Could not find launch template version ${version} for ${template.launchTemplateId}`,
          );
        }
        return describeVersion(resolved.version);
      }),
    };
  }),
  route("ec2", "CreateLaunchTemplateVersion", "ec2:mutate", true, (world, input) => {
    const template = launchTemplateOf(world, input);
    const source = world.resolveVersion(template.launchTemplateId, String(input.SourceVersion ?? "$Latest"));
    if (!source)
      throw new SimAwsError(
        "InvalidLaunchTemplateId.VersionNotFound",
        `Source version ${input.SourceVersion} not found`,
      );
    const versionNumber = template.latestVersion + 1;
    const version: SimTemplateVersion = {
      versionNumber,
      imageId: input.LaunchTemplateData?.ImageId ?? source.version.imageId,
      instanceType: input.LaunchTemplateData?.InstanceType ?? source.version.instanceType,
      createdAt: world.clock.now(),
      description: input.VersionDescription,
      securityGroupIds: input.LaunchTemplateData?.SecurityGroupIds ?? source.version.securityGroupIds,
      iamInstanceProfileArn:
        input.LaunchTemplateData?.IamInstanceProfile?.Arn ?? source.version.iamInstanceProfileArn,
    };
    template.versions.set(versionNumber, version);
    template.latestVersion = versionNumber;
    return {
      LaunchTemplateVersion: {
        LaunchTemplateId: template.launchTemplateId,
        LaunchTemplateName: template.launchTemplateName,
        VersionNumber: versionNumber,
        VersionDescription: version.description,
        LaunchTemplateData: { ImageId: version.imageId, InstanceType: version.instanceType },
      },
    };
  }),
];

// ------------------------------------------------------------------ Elastic Load Balancing v2

function targetGroupOf(world: SimWorld, arn: string) {
  const targetGroup = world.targetGroups.get(arn);
  if (!targetGroup) throw new SimAwsError("TargetGroupNotFound", `Target groups '${arn}' not found`);
  return targetGroup;
}

const elbv2Routes: Route[] = [
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

// ------------------------------------------------------------------ CloudWatch and EventBridge

const cloudWatchRoutes: Route[] = [
  route("cloudwatch", "DescribeAlarms", "cloudwatch:describe", false, (world, input) => {
    const names: string[] | undefined = input.AlarmNames;
    const alarms = [...world.alarms.values()].filter((alarm) => !names || names.includes(alarm.alarmName));
    return {
      MetricAlarms: alarms.map((alarm) => ({ AlarmName: alarm.alarmName, StateValue: alarm.state })),
      CompositeAlarms: [],
    };
  }),
];

const eventRoutes: Route[] = [
  route("events", "PutEvents", "events:put", true, (world, input) => {
    const entries = input.Entries as {
      Source: string;
      DetailType: string;
      Detail: string;
      EventBusName?: string;
      Resources?: string[];
    }[];
    if (entries.length > 10)
      throw new SimAwsError(
        "ValidationException",
        "1 validation error detected: Entries must have at most 10 items",
      );
    const ids = entries.map(
      (entry) =>
        world.putEvent({
          source: entry.Source,
          detailType: entry.DetailType,
          detail: JSON.parse(entry.Detail),
          resources: entry.Resources,
          eventBusName: entry.EventBusName,
        }).id,
    );
    return { FailedEntryCount: 0, Entries: ids.map((EventId) => ({ EventId })) };
  }),
];

// ------------------------------------------------------------------ Image Builder and Parameter Store

const imageRoutes: Route[] = [
  route("imagebuilder", "GetImage", "imagebuilder:api", false, (world, input) => {
    const image = world.builtImages.get(input.imageBuildVersionArn);
    if (!image)
      throw new SimAwsError("ResourceNotFoundException", `Image ${input.imageBuildVersionArn} not found`);
    return {
      image: {
        arn: input.imageBuildVersionArn,
        name: image.name,
        version: image.version,
        state: { status: "AVAILABLE" },
        tags: image.tags,
        outputResources: { amis: image.amis.map((ami) => ({ ...ami, accountId: world.accountId })) },
      },
    };
  }),
  route("ssm", "GetParameter", "ssm:api", false, (world, input) => {
    const parameter = world.parameters.get(input.Name);
    if (!parameter) throw new SimAwsError("ParameterNotFound", `Parameter ${input.Name} not found.`);
    return {
      Parameter: {
        Name: input.Name,
        Type: "String",
        Value: parameter.value,
        Version: parameter.version,
        DataType: "aws:ec2:image",
      },
    };
  }),
];

/** The ARN of an instance profile given by ARN or name, which must exist (EC2's InvalidParameterValue otherwise). */
function knownInstanceProfile(world: SimWorld, profile: { Arn?: string; Name?: string } | undefined): string {
  const arn = profile?.Arn ?? `arn:aws:iam::${world.accountId}:instance-profile/${profile?.Name}`;
  if (!world.instanceProfiles.has(arn))
    throw new SimAwsError(
      "InvalidParameterValue",
      `Value (${arn}) for parameter iamInstanceProfile.arn is invalid`,
    );
  return arn;
}

/** The instance an instance-profile association belongs to (EC2's InvalidAssociationID.NotFound otherwise). */
function instanceWithAssociation(world: SimWorld, associationId: string): SimInstance {
  const instance = [...world.instances.values()].find(
    (item) => item.iamInstanceProfile?.associationId === associationId,
  );
  if (!instance)
    throw new SimAwsError(
      "InvalidAssociationID.NotFound",
      `The association ID '${associationId}' does not exist`,
    );
  return instance;
}

/** Gives an instance a profile under a new association, answered as EC2 answers it. */
function associateInstanceProfile(world: SimWorld, instance: SimInstance, arn: string) {
  instance.iamInstanceProfile = { arn, associationId: world.newId("iip-assoc") };
  return {
    IamInstanceProfileAssociation: {
      AssociationId: instance.iamInstanceProfile.associationId,
      InstanceId: instance.instanceId,
    },
  };
}

/** Every simulated operation. */
export const ROUTES: Route[] = [
  ...autoScalingRoutes,
  ...ec2Routes,
  ...elbv2Routes,
  ...cloudWatchRoutes,
  ...eventRoutes,
  ...imageRoutes,
];
