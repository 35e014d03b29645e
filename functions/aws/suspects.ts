// Describing suspects as AWS sees them: network interfaces (groups, public and IPv6 addresses, idle
// timeouts), Elastic IPs, instance profile, EBS volumes with their KMS keys, instance store, Spot or not,
// and (for the network ACL mode) their subnets. Read-only.
import {
  type _InstanceType,
  DescribeAddressesCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkAclsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { NETWORK_ACL_OPT_IN_TAG } from "../engine/containment";
import type { SuspectInstance, SuspectSubnet } from "../engine/quarantine";
import { QUARANTINE_TAG } from "../engine/types";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const ec2 = () => clientFor("ec2", () => new EC2Client(sdkClientDefaults));

const tagsOf = (tags: { Key?: string; Value?: string }[] = []) =>
  Object.fromEntries(tags.map((tag) => [tag.Key ?? "", tag.Value ?? ""]));

/** Every instance a DescribeInstances filter matches, all pages. */
async function describeAll(filters: { Name: string; Values: string[] }[]) {
  const instances = [];
  let nextToken: string | undefined;
  do {
    const response = await callAws("DescribeInstances", () =>
      ec2().send(new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken, MaxResults: 1000 })),
    );
    instances.push(...(response.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []));
    nextToken = response.NextToken;
  } while (nextToken);
  return instances;
}

/** GB of instance store of each instance type (0: EBS only). */
async function instanceStore(types: string[]): Promise<Map<string, number>> {
  if (types.length === 0) return new Map();
  const response = await callAws("DescribeInstanceTypes", () =>
    ec2().send(new DescribeInstanceTypesCommand({ InstanceTypes: types as _InstanceType[] })),
  );
  return new Map(
    (response.InstanceTypes ?? []).map((type) => [
      type.InstanceType ?? "",
      type.InstanceStorageSupported ? (type.InstanceStorageInfo?.TotalSizeInGB ?? 0) : 0,
    ]),
  );
}

/**
 * Everything release, the manifest and containment need about instances. `memberships` gives each group
 * member's group and Auto Scaling lifecycle state.
 */
export async function describeSuspects(
  instanceIds: string[],
  memberships: Map<string, { groupName: string; lifecycleState?: string }>,
): Promise<SuspectInstance[]> {
  const response = await callAws("DescribeInstances", () =>
    ec2().send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: instanceIds }] })),
  );
  const instances = (response.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
  if (instances.length === 0) return [];
  const addresses = await callAws("DescribeAddresses", () =>
    ec2().send(new DescribeAddressesCommand({ Filters: [{ Name: "instance-id", Values: instanceIds }] })),
  );
  const associations = await callAws("DescribeIamInstanceProfileAssociations", () =>
    ec2().send(
      new DescribeIamInstanceProfileAssociationsCommand({
        Filters: [{ Name: "instance-id", Values: instanceIds }],
      }),
    ),
  );
  const volumes = await callAws("DescribeVolumes", () =>
    ec2().send(
      new DescribeVolumesCommand({ Filters: [{ Name: "attachment.instance-id", Values: instanceIds }] }),
    ),
  );
  const volumeDetails = new Map((volumes.Volumes ?? []).map((volume) => [volume.VolumeId ?? "", volume]));
  const stores = await instanceStore([...new Set(instances.map((instance) => instance.InstanceType ?? ""))]);
  return instances.map((instance) => {
    const id = instance.InstanceId ?? "";
    const association = associations.IamInstanceProfileAssociations?.find(
      (item) => item.InstanceId === id && item.State !== "disassociated",
    );
    const membership = memberships.get(id);
    return {
      instanceId: id,
      state: instance.State?.Name ?? "unknown",
      imageId: instance.ImageId ?? "",
      instanceType: instance.InstanceType ?? "",
      launchTime: instance.LaunchTime?.toISOString() ?? "",
      availabilityZone: instance.Placement?.AvailabilityZone ?? "",
      vpcId: instance.VpcId ?? "",
      subnetId: instance.SubnetId ?? "",
      privateIpAddress: instance.PrivateIpAddress,
      tags: tagsOf(instance.Tags),
      instanceLifecycle: instance.InstanceLifecycle,
      rootDeviceType: instance.RootDeviceType,
      rootDeviceName: instance.RootDeviceName,
      instanceStoreGiB: stores.get(instance.InstanceType ?? ""),
      networkInterfaces: (instance.NetworkInterfaces ?? []).map((eni) => ({
        networkInterfaceId: eni.NetworkInterfaceId ?? "",
        groups: (eni.Groups ?? []).map((group) => group.GroupId ?? ""),
        deviceIndex: eni.Attachment?.DeviceIndex,
        subnetId: eni.SubnetId,
        privateIpAddress: eni.PrivateIpAddress,
        ipv6Addresses: (eni.Ipv6Addresses ?? []).map((address) => address.Ipv6Address ?? ""),
        publicIp: eni.Association?.PublicIp,
        publicIpFromAmazon: eni.Association?.PublicIp ? eni.Association.IpOwnerId === "amazon" : undefined,
        connectionTracking: eni.ConnectionTrackingConfiguration
          ? {
              tcpEstablishedTimeout: eni.ConnectionTrackingConfiguration.TcpEstablishedTimeout,
              udpStreamTimeout: eni.ConnectionTrackingConfiguration.UdpStreamTimeout,
              udpTimeout: eni.ConnectionTrackingConfiguration.UdpTimeout,
            }
          : undefined,
      })),
      iamInstanceProfile: instance.IamInstanceProfile?.Arn
        ? { arn: instance.IamInstanceProfile.Arn, associationId: association?.AssociationId }
        : undefined,
      elasticIps: (addresses.Addresses ?? [])
        .filter((address) => address.InstanceId === id && address.AllocationId)
        .map((address) => ({
          allocationId: address.AllocationId ?? "",
          associationId: address.AssociationId,
          publicIp: address.PublicIp ?? "",
          networkInterfaceId: address.NetworkInterfaceId,
        })),
      volumes: (instance.BlockDeviceMappings ?? []).flatMap((mapping) => {
        const volumeId = mapping.Ebs?.VolumeId;
        if (!volumeId) return [];
        const details = volumeDetails.get(volumeId);
        return [
          {
            volumeId,
            deviceName: mapping.DeviceName ?? "",
            deleteOnTermination: mapping.Ebs?.DeleteOnTermination ?? true,
            sizeGiB: details?.Size,
            encrypted: details?.Encrypted,
            kmsKeyId: details?.KmsKeyId,
          },
        ];
      }),
      groupName: membership?.groupName,
      lifecycleState: membership?.lifecycleState,
    };
  });
}

/**
 * The suspects' subnets, for the network ACL mode: whether each is tagged as one Phoenix may cut off, its
 * network ACL association, and the other instances in it (all of which a network ACL cuts off too).
 */
export async function describeSubnets(
  subnetIds: string[],
  suspectIds: string[],
): Promise<Map<string, SuspectSubnet>> {
  if (subnetIds.length === 0) return new Map();
  const subnets = await callAws("DescribeSubnets", () =>
    ec2().send(new DescribeSubnetsCommand({ SubnetIds: subnetIds })),
  );
  const acls = await callAws("DescribeNetworkAcls", () =>
    ec2().send(
      new DescribeNetworkAclsCommand({ Filters: [{ Name: "association.subnet-id", Values: subnetIds }] }),
    ),
  );
  const neighbours = await describeAll([
    { Name: "subnet-id", Values: subnetIds },
    { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
  ]);
  const result = new Map<string, SuspectSubnet>();
  for (const subnet of subnets.Subnets ?? []) {
    const subnetId = subnet.SubnetId ?? "";
    const association = (acls.NetworkAcls ?? [])
      .flatMap((acl) => acl.Associations ?? [])
      .find((item) => item.SubnetId === subnetId);
    result.set(subnetId, {
      subnetId,
      networkAclAllowed: tagsOf(subnet.Tags)[NETWORK_ACL_OPT_IN_TAG] === "allowed",
      networkAclId: association?.NetworkAclId,
      networkAclAssociationId: association?.NetworkAclAssociationId,
      otherInstances: neighbours
        .filter(
          (instance) => instance.SubnetId === subnetId && !suspectIds.includes(instance.InstanceId ?? ""),
        )
        .map((instance) => instance.InstanceId ?? ""),
    });
  }
  return result;
}

/** Instances of a subnet still tagged quarantined (a network ACL stays while any of them is). */
export async function quarantinedInSubnet(subnetId: string): Promise<string[]> {
  const instances = await describeAll([
    { Name: "subnet-id", Values: [subnetId] },
    { Name: "tag-key", Values: [QUARANTINE_TAG] },
  ]);
  return instances
    .filter((instance) => instance.State?.Name !== "terminated")
    .map((instance) => instance.InstanceId ?? "");
}
