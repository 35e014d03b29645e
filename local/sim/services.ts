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

function describeInstance(instance: SimInstance) {
  return {
    InstanceId: instance.instanceId,
    ImageId: instance.imageId,
    InstanceType: instance.instanceType,
    LaunchTime: new Date(instance.launchTime),
    State: { Code: EC2_STATE_CODES[instance.state], Name: instance.state },
    PrivateIpAddress: instance.state === "terminated" ? undefined : instance.privateIpAddress,
    Placement: { AvailabilityZone: instance.availabilityZone },
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

const ec2Routes: Route[] = [
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
        Instances: [describeInstance(instance)],
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

/** Every simulated operation. */
export const ROUTES: Route[] = [
  ...autoScalingRoutes,
  ...ec2Routes,
  ...elbv2Routes,
  ...cloudWatchRoutes,
  ...eventRoutes,
  ...imageRoutes,
];
