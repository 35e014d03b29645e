// EC2 instances and launch templates: describing instances, launch template versions, instance attributes,
// tags and termination.
import type { SimInstance, SimTemplateVersion } from "../model";
import { SimAwsError, type SimWorld } from "../world";
import { page, type Route, route, tagList } from "./route";

const EC2_STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/**
 * Instance store of the instance types the scenarios use, GB (0: EBS only), from the instance type pages
 * (https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html#gp_instance-store): EC2 lists instance store
 * volumes in DescribeInstanceTypes, never in an instance's block device mappings.
 */
const INSTANCE_STORE_GIB: Record<string, number> = {
  "t4g.small": 0,
  "t3.micro": 0,
  "m5.large": 0,
  "m5d.large": 75,
  "c5d.large": 50,
  "i3.large": 475,
  "m1.small": 160,
};

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
    PublicIpAddress: gone
      ? undefined
      : (instance.networkInterfaces[0]?.association?.publicIp ?? instance.networkInterfaces[0]?.publicIp),
    InstanceLifecycle: instance.instanceLifecycle,
    RootDeviceType: instance.rootDeviceType,
    RootDeviceName: "/dev/xvda",
    NetworkInterfaces: gone
      ? []
      : instance.networkInterfaces.map((eni) => ({
          NetworkInterfaceId: eni.networkInterfaceId,
          SubnetId: eni.subnetId,
          VpcId: instance.vpcId,
          Attachment: { DeviceIndex: eni.deviceIndex, Status: "attached" },
          PrivateIpAddress: eni.privateIpAddress,
          Ipv6Addresses: eni.ipv6Addresses.map((address) => ({ Ipv6Address: address })),
          Groups: eni.groups.map(groupRef),
          // An Elastic IP is owned by the account; an address from Amazon's pool by "amazon".
          Association: eni.association
            ? { PublicIp: eni.association.publicIp, IpOwnerId: world.accountId }
            : eni.publicIp
              ? { PublicIp: eni.publicIp, IpOwnerId: "amazon" }
              : undefined,
          ConnectionTrackingConfiguration: {
            TcpEstablishedTimeout: eni.connectionTracking.tcpEstablishedTimeout,
            UdpStreamTimeout: eni.connectionTracking.udpStreamTimeout,
            UdpTimeout: eni.connectionTracking.udpTimeout,
          },
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

/** DescribeInstances' filters as one test per filter, each value list a set (filters name up to 1,000 ids). */
function instanceFilter(
  filters: { Name?: string; Values?: string[] }[] | undefined,
): (instance: SimInstance) => boolean {
  const tests = (filters ?? []).map((filter): ((instance: SimInstance) => boolean) => {
    const values = new Set(filter.Values ?? []);
    const name = filter.Name;
    if (name === "instance-id") return (instance) => values.has(instance.instanceId);
    if (name === "instance-state-name") return (instance) => values.has(instance.state);
    if (name === "image-id") return (instance) => values.has(instance.imageId);
    if (name === "subnet-id") return (instance) => values.has(instance.subnetId);
    if (name?.startsWith("tag:")) {
      const key = name.slice(4);
      return (instance) => {
        const value = instance.tags.get(key);
        return value !== undefined && values.has(value);
      };
    }
    if (name === "tag-key") return (instance) => [...values].some((key) => instance.tags.has(key));
    throw new SimAwsError("InvalidParameterValue", `The filter '${name}' is invalid`);
  });
  return (instance) => tests.every((test) => test(instance));
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

/** Instance, launch template, attribute, tag and termination operations. */
export const ec2Routes: Route[] = [
  route("ec2", "ModifyInstanceAttribute", "ec2:mutate", true, (world, input) => {
    const instance = world.requireInstance(input.InstanceId);
    // "You can't enable termination protection for Spot Instances"
    // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_ChangingDisableAPITermination.html);
    // EC2 answers with this error.
    if (input.DisableApiTermination && instance.instanceLifecycle === "spot")
      throw new SimAwsError(
        "UnsupportedOperation",
        "Modifying 'disableApiTermination' is not supported for spot instances.",
      );
    if (input.DisableApiTermination)
      instance.disableApiTermination = input.DisableApiTermination.Value === true;
    // An instance-store backed instance can only be terminated, never stopped
    // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_ChangingInstanceInitiatedShutdownBehavior.html),
    // so its shutdown behavior cannot be set; EC2 answers with this error.
    if (input.InstanceInitiatedShutdownBehavior && instance.rootDeviceType === "instance-store")
      throw new SimAwsError(
        "InvalidParameterCombination",
        "The attribute instanceInitiatedShutdownBehavior can only be used for elastic images.",
      );
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
  route("ec2", "DescribeInstances", "ec2:describe", false, (world, input) => {
    const ids: string[] | undefined = input.InstanceIds;
    for (const id of ids ?? []) {
      if (!world.instances.has(id))
        throw new SimAwsError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
    }
    const named = ids && ids.length > 0 ? new Set(ids) : undefined;
    const matches = instanceFilter(input.Filters);
    const instances: SimInstance[] = [];
    for (const instance of world.instances.values())
      if ((!named || named.has(instance.instanceId)) && matches(instance)) instances.push(instance);
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
  route("ec2", "DescribeInstanceTypes", "ec2:describe", false, (_world, input) => ({
    InstanceTypes: ((input.InstanceTypes ?? []) as string[]).map((type) => {
      const storage = INSTANCE_STORE_GIB[type];
      if (storage === undefined)
        throw new SimAwsError(
          "InvalidInstanceType",
          `The following supplied instance types do not exist: [${type}]`,
        );
      return {
        InstanceType: type,
        InstanceStorageSupported: storage > 0,
        InstanceStorageInfo: storage > 0 ? { TotalSizeInGB: storage } : undefined,
      };
    }),
  })),
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
      // Data not given is the source version's, tag specifications included.
      tagSpecifications: source.version.tagSpecifications,
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
