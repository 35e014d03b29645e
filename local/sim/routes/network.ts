// EC2 networking: security groups and their rules, network interfaces, Elastic IP addresses, instance
// profile associations.
import type { SimInstance } from "../model";
import { SimAwsError, type SimWorld } from "../world";
import { type Route, route, tagList, tagsOf } from "./route";

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

/** Security groups, network interfaces, addresses and instance profiles. */
export const networkRoutes: Route[] = [
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
];
