// Cutting an instance off: security groups (in two steps, for connection tracking), Elastic IPs and the
// instance profile.
import {
  AssociateAddressCommand,
  AssociateIamInstanceProfileCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeAddressesCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DisassociateAddressCommand,
  DisassociateIamInstanceProfileCommand,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  ReplaceIamInstanceProfileAssociationCommand,
  RevokeSecurityGroupEgressCommand,
} from "@aws-sdk/client-ec2";
import { ISOLATION_GROUP_NAME, type SuspectInstance, UNTRACK_GROUP_NAME } from "../engine/quarantine";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const ec2 = () => clientFor("ec2", () => new EC2Client(sdkClientDefaults));

const ALL_TRAFFIC = [{ IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] }];

/** Everything release and the manifest need about instances: network, profile, Elastic IPs, volumes, group. */
export async function describeSuspects(
  instanceIds: string[],
  groupOf: Map<string, string>,
): Promise<SuspectInstance[]> {
  const response = await callAws("DescribeInstances", () =>
    ec2().send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: instanceIds }] })),
  );
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
  return (response.Reservations ?? []).flatMap((reservation) =>
    (reservation.Instances ?? []).map((instance) => {
      const id = instance.InstanceId ?? "";
      const association = associations.IamInstanceProfileAssociations?.find(
        (item) => item.InstanceId === id && item.State !== "disassociated",
      );
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
        tags: Object.fromEntries((instance.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
        networkInterfaces: (instance.NetworkInterfaces ?? []).map((eni) => ({
          networkInterfaceId: eni.NetworkInterfaceId ?? "",
          groups: (eni.Groups ?? []).map((group) => group.GroupId ?? ""),
          privateIpAddress: eni.PrivateIpAddress,
          publicIp: eni.Association?.PublicIp,
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
        volumes: (instance.BlockDeviceMappings ?? []).flatMap((mapping) =>
          mapping.Ebs?.VolumeId
            ? [
                {
                  volumeId: mapping.Ebs.VolumeId,
                  deviceName: mapping.DeviceName ?? "",
                  deleteOnTermination: mapping.Ebs.DeleteOnTermination ?? true,
                },
              ]
            : [],
        ),
        groupName: groupOf.get(id),
      };
    }),
  );
}

/** A security group of a VPC by name, with whether it has any inbound or outbound rule. */
async function findGroup(
  vpcId: string,
  name: string,
): Promise<{ groupId: string; anyIngress: boolean; anyEgress: boolean } | undefined> {
  const response = await callAws("DescribeSecurityGroups", () =>
    ec2().send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: "vpc-id", Values: [vpcId] },
          { Name: "group-name", Values: [name] },
        ],
      }),
    ),
  );
  const group = response.SecurityGroups?.[0];
  if (!group?.GroupId) return undefined;
  return {
    groupId: group.GroupId,
    anyIngress: (group.IpPermissions ?? []).length > 0,
    anyEgress: (group.IpPermissionsEgress ?? []).length > 0,
  };
}

/**
 * The two groups isolation needs in a VPC, created once and found afterwards: one allowing all traffic
 * (applied first, so tracked connections become untracked) and one with no rules at all. A group found
 * without its rules right (an earlier attempt created it, then failed before setting them, throttled say)
 * is put right, so a retried isolation never moves a suspect into a group that still lets traffic out.
 */
export async function ensureIsolationGroups(
  vpcId: string,
): Promise<{ untrackGroupId: string; isolationGroupId: string }> {
  const tags = [
    { ResourceType: "security-group" as const, Tags: [{ Key: "phoenix:managed", Value: "true" }] },
  ];
  const untrack = await findGroup(vpcId, UNTRACK_GROUP_NAME);
  let untrackGroupId = untrack?.groupId;
  if (!untrackGroupId) {
    const created = await callAws("CreateSecurityGroup", () =>
      ec2().send(
        new CreateSecurityGroupCommand({
          GroupName: UNTRACK_GROUP_NAME,
          Description:
            "Phoenix isolation, step 1: all traffic allowed so that open connections are untracked",
          VpcId: vpcId,
          TagSpecifications: tags,
        }),
      ),
    );
    untrackGroupId = created.GroupId as string;
  }
  if (!untrack?.anyIngress) {
    const groupId = untrackGroupId;
    await callAws("AuthorizeSecurityGroupIngress", () =>
      ec2().send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: ALL_TRAFFIC })),
    );
  }
  const isolation = await findGroup(vpcId, ISOLATION_GROUP_NAME);
  let isolationGroupId = isolation?.groupId;
  if (!isolationGroupId) {
    const created = await callAws("CreateSecurityGroup", () =>
      ec2().send(
        new CreateSecurityGroupCommand({
          GroupName: ISOLATION_GROUP_NAME,
          Description: "Phoenix isolation: no traffic in or out",
          VpcId: vpcId,
          TagSpecifications: tags,
        }),
      ),
    );
    isolationGroupId = created.GroupId as string;
  }
  // A new group allows everything out; isolation allows nothing.
  if (!isolation || isolation.anyEgress) {
    const groupId = isolationGroupId;
    await callAws("RevokeSecurityGroupEgress", () =>
      ec2().send(new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: ALL_TRAFFIC })),
    );
  }
  return { untrackGroupId, isolationGroupId };
}

/** Sets the security groups of one network interface. */
export async function setInterfaceGroups(networkInterfaceId: string, groupIds: string[]): Promise<void> {
  await callAws("ModifyNetworkInterfaceAttribute", () =>
    ec2().send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: networkInterfaceId,
        Groups: groupIds,
      }),
    ),
  );
}

/** Detaches an Elastic IP from whatever it is associated with. */
export async function disassociateAddress(associationId: string): Promise<void> {
  await callAws("DisassociateAddress", () =>
    ec2().send(new DisassociateAddressCommand({ AssociationId: associationId })),
  );
}

/** Associates an Elastic IP with a network interface again (release). */
export async function associateAddress(allocationId: string, networkInterfaceId: string): Promise<void> {
  await callAws("AssociateAddress", () =>
    ec2().send(
      new AssociateAddressCommand({
        AllocationId: allocationId,
        NetworkInterfaceId: networkInterfaceId,
        AllowReassociation: false,
      }),
    ),
  );
}

/** Removes an instance's profile, or swaps it for an isolation profile when one is given. */
export async function isolateInstanceProfile(
  associationId: string,
  isolationProfileArn?: string,
): Promise<"replaced" | "removed"> {
  if (isolationProfileArn) {
    await callAws("ReplaceIamInstanceProfileAssociation", () =>
      ec2().send(
        new ReplaceIamInstanceProfileAssociationCommand({
          AssociationId: associationId,
          IamInstanceProfile: { Arn: isolationProfileArn },
        }),
      ),
    );
    return "replaced";
  }
  await callAws("DisassociateIamInstanceProfile", () =>
    ec2().send(new DisassociateIamInstanceProfileCommand({ AssociationId: associationId })),
  );
  return "removed";
}

/** Gives an instance back its recorded profile (release): replaces the isolation profile or associates anew. */
export async function restoreInstanceProfile(instanceId: string, profileArn: string): Promise<void> {
  const current = await callAws("DescribeIamInstanceProfileAssociations", () =>
    ec2().send(
      new DescribeIamInstanceProfileAssociationsCommand({
        Filters: [{ Name: "instance-id", Values: [instanceId] }],
      }),
    ),
  );
  const association = current.IamInstanceProfileAssociations?.find((item) => item.State !== "disassociated");
  if (association?.IamInstanceProfile?.Arn === profileArn) return;
  if (association?.AssociationId) {
    await callAws("ReplaceIamInstanceProfileAssociation", () =>
      ec2().send(
        new ReplaceIamInstanceProfileAssociationCommand({
          AssociationId: association.AssociationId,
          IamInstanceProfile: { Arn: profileArn },
        }),
      ),
    );
    return;
  }
  await callAws("AssociateIamInstanceProfile", () =>
    ec2().send(
      new AssociateIamInstanceProfileCommand({
        InstanceId: instanceId,
        IamInstanceProfile: { Arn: profileArn },
      }),
    ),
  );
}
