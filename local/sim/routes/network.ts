// EC2 networking: security groups and their rules, network interfaces, subnets and network ACLs, Elastic IP
// addresses, instance profile associations.
import type { SimInstance, SimNetworkAclEntry, SimRule } from "../model";
import { SimAwsError, type SimWorld } from "../world";
import { type Route, route, tagList, tagsOf } from "./route";

type Filter = { Name: string; Values: string[] };

interface IpPermission {
  IpProtocol?: string;
  FromPort?: number;
  ToPort?: number;
  IpRanges?: { CidrIp?: string }[];
  Ipv6Ranges?: { CidrIpv6?: string }[];
}

const rulesOf = (permissions: IpPermission[] = []): SimRule[] =>
  permissions.flatMap((permission) =>
    [
      ...(permission.IpRanges ?? []).map((range) => range.CidrIp ?? "0.0.0.0/0"),
      ...(permission.Ipv6Ranges ?? []).map((range) => range.CidrIpv6 ?? "::/0"),
    ].map((cidr) => ({
      protocol: permission.IpProtocol ?? "-1",
      fromPort: permission.IpProtocol === "-1" ? undefined : permission.FromPort,
      toPort: permission.IpProtocol === "-1" ? undefined : permission.ToPort,
      cidr,
    })),
  );

const permissionsOf = (rules: SimRule[]) =>
  rules.map((rule) => ({
    IpProtocol: rule.protocol,
    FromPort: rule.fromPort,
    ToPort: rule.toPort,
    IpRanges: rule.cidr.includes(":") ? [] : [{ CidrIp: rule.cidr }],
    Ipv6Ranges: rule.cidr.includes(":") ? [{ CidrIpv6: rule.cidr }] : [],
  }));

const sameRule = (a: SimRule, b: SimRule) =>
  a.protocol === b.protocol &&
  a.cidr === b.cidr &&
  (a.fromPort ?? -1) === (b.fromPort ?? -1) &&
  (a.toPort ?? -1) === (b.toPort ?? -1);

/** Whether a resource's tags pass "tag:<key>" and "tag-key" filters. */
function tagFilterMatches(tags: Map<string, string>, filter: Filter): boolean | undefined {
  if (filter.Name === "tag-key") return filter.Values.some((key) => tags.has(key));
  if (!filter.Name.startsWith("tag:")) return undefined;
  const value = tags.get(filter.Name.slice(4));
  return value !== undefined && filter.Values.includes(value);
}

const invalidFilter = (filter: Filter) =>
  new SimAwsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);

/**
 * Adds rules to a group. EC2 refuses a rule the group already has with InvalidPermission.Duplicate
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html).
 */
function authorize(
  world: SimWorld,
  input: { GroupId: string; IpPermissions?: IpPermission[] },
  direction: "ingress" | "egress",
) {
  const group = world.requireSecurityGroup(input.GroupId);
  const rules = rulesOf(input.IpPermissions);
  const duplicate = rules.find((rule) => group[direction].some((item) => sameRule(item, rule)));
  if (duplicate)
    throw new SimAwsError(
      "InvalidPermission.Duplicate",
      `the specified rule "peer: ${duplicate.cidr}, ALL, ALLOW" already exists`,
    );
  group[direction].push(...rules);
  world.networkChanged((instance) =>
    instance.networkInterfaces.some((eni) => eni.groups.includes(group.groupId)),
  );
  return { Return: true };
}

/** Removes rules; rules the group does not have come back as UnknownIpPermissions, not as an error. */
function revoke(
  world: SimWorld,
  input: { GroupId: string; IpPermissions?: IpPermission[] },
  direction: "ingress" | "egress",
) {
  const group = world.requireSecurityGroup(input.GroupId);
  const revoked = rulesOf(input.IpPermissions);
  const unknown = revoked.filter((rule) => !group[direction].some((item) => sameRule(item, rule)));
  group[direction] = group[direction].filter((rule) => !revoked.some((item) => sameRule(item, rule)));
  world.networkChanged((instance) =>
    instance.networkInterfaces.some((eni) => eni.groups.includes(group.groupId)),
  );
  return { Return: true, UnknownIpPermissions: unknown.length > 0 ? permissionsOf(unknown) : undefined };
}

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
  const associationId = world.associateProfile(instance, arn);
  return { IamInstanceProfileAssociation: { AssociationId: associationId, InstanceId: instance.instanceId } };
}

/** The instance and interface of an interface id (EC2's InvalidNetworkInterfaceID.NotFound otherwise). */
function interfaceOf(world: SimWorld, networkInterfaceId: string) {
  for (const instance of world.instances.values()) {
    const eni = instance.networkInterfaces.find((item) => item.networkInterfaceId === networkInterfaceId);
    if (eni) return { instance, eni };
  }
  throw new SimAwsError(
    "InvalidNetworkInterfaceID.NotFound",
    `The networkInterface ID '${networkInterfaceId}' does not exist`,
  );
}

/** Network ACL entries as EC2 lists them, with the implicit last rule ("*", 32767) that denies everything. */
function entriesOf(entries: SimNetworkAclEntry[]) {
  const implicit = [false, true].flatMap((egress) =>
    ["0.0.0.0/0", "::/0"].map((cidr) => ({
      ruleNumber: 32_767,
      egress,
      protocol: "-1",
      ruleAction: "deny",
      cidr,
    })),
  );
  return [...entries, ...implicit].map((entry) => ({
    RuleNumber: entry.ruleNumber,
    Egress: entry.egress,
    Protocol: entry.protocol,
    RuleAction: entry.ruleAction,
    CidrBlock: entry.cidr.includes(":") ? undefined : entry.cidr,
    Ipv6CidrBlock: entry.cidr.includes(":") ? entry.cidr : undefined,
  }));
}

/** Security groups, network interfaces, subnets, network ACLs, addresses and instance profiles. */
export const networkRoutes: Route[] = [
  route("ec2", "DescribeSecurityGroups", "ec2:describe", false, (world, input) => {
    const filters = (input.Filters ?? []) as Filter[];
    const ids = input.GroupIds as string[] | undefined;
    // A group still propagating after CreateSecurityGroup is not listed; asked for by id, it is not found.
    for (const id of ids ?? []) world.requireSecurityGroup(id);
    const groups = [...world.securityGroups.values()].filter(
      (group) =>
        world.visibleSecurityGroup(group.groupId) &&
        (!ids || ids.includes(group.groupId)) &&
        filters.every((filter) => {
          if (filter.Name === "group-name") return filter.Values.includes(group.groupName);
          if (filter.Name === "vpc-id") return filter.Values.includes(group.vpcId);
          if (filter.Name === "group-id") return filter.Values.includes(group.groupId);
          const tagged = tagFilterMatches(group.tags, filter);
          if (tagged === undefined) throw invalidFilter(filter);
          return tagged;
        }),
    );
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
    const [min, max] = world.timing.securityGroupPropagationSeconds;
    // A new group allows all IPv4 traffic out and nothing in, as EC2 creates it; other calls may not see it
    // for a while (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
    world.securityGroups.set(groupId, {
      groupId,
      groupName: input.GroupName,
      vpcId: input.VpcId,
      description: input.Description,
      ingress: [],
      egress: [{ protocol: "-1", cidr: "0.0.0.0/0" }],
      tags: new Map(Object.entries(tagsOf(input.TagSpecifications, "security-group"))),
      visibleAt: max > 0 ? world.clock.now() + world.random.between(min, max) * 1000 : undefined,
    });
    return { GroupId: groupId };
  }),
  route("ec2", "AuthorizeSecurityGroupIngress", "ec2:mutate", true, (world, input) =>
    authorize(world, input, "ingress"),
  ),
  route("ec2", "AuthorizeSecurityGroupEgress", "ec2:mutate", true, (world, input) =>
    authorize(world, input, "egress"),
  ),
  route("ec2", "RevokeSecurityGroupIngress", "ec2:mutate", true, (world, input) =>
    revoke(world, input, "ingress"),
  ),
  route("ec2", "RevokeSecurityGroupEgress", "ec2:mutate", true, (world, input) =>
    revoke(world, input, "egress"),
  ),
  route("ec2", "ModifyNetworkInterfaceAttribute", "ec2:mutate", true, (world, input) => {
    const { instance, eni } = interfaceOf(world, input.NetworkInterfaceId);
    // "You can specify only one attribute at a time"
    // (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html).
    const given = [
      "Groups",
      "ConnectionTrackingSpecification",
      "AssociatePublicIpAddress",
      "SourceDestCheck",
      "Description",
      "Attachment",
    ].filter((name) => input[name] !== undefined);
    if (given.length !== 1)
      throw new SimAwsError(
        "InvalidParameterCombination",
        `Specify exactly one attribute, not ${given.join(", ") || "none"}`,
      );
    if (input.Groups) world.setInterfaceGroups(instance, eni.networkInterfaceId, input.Groups);
    if (input.ConnectionTrackingSpecification) {
      const spec = input.ConnectionTrackingSpecification;
      world.setConnectionTracking(instance, eni, {
        tcpEstablishedTimeout: spec.TcpEstablishedTimeout,
        udpStreamTimeout: spec.UdpStreamTimeout,
        udpTimeout: spec.UdpTimeout,
      });
    }
    if (input.AssociatePublicIpAddress !== undefined) {
      // It applies to the primary interface (eth0) only.
      eni.assignPublicIp = input.AssociatePublicIpAddress === true;
      world.settlePublicIp(instance, eni);
    }
    return {};
  }),
  route("ec2", "DescribeSubnets", "ec2:describe", false, (world, input) => {
    const filters = (input.Filters ?? []) as Filter[];
    const ids = input.SubnetIds as string[] | undefined;
    for (const id of ids ?? [])
      if (!world.subnets.has(id))
        throw new SimAwsError("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
    return {
      Subnets: [...world.subnets.values()]
        .filter(
          (subnet) =>
            (!ids || ids.includes(subnet.subnetId)) &&
            filters.every((filter) => {
              if (filter.Name === "subnet-id") return filter.Values.includes(subnet.subnetId);
              if (filter.Name === "vpc-id") return filter.Values.includes(subnet.vpcId);
              const tagged = tagFilterMatches(subnet.tags, filter);
              if (tagged === undefined) throw invalidFilter(filter);
              return tagged;
            }),
        )
        .map((subnet) => ({
          SubnetId: subnet.subnetId,
          VpcId: subnet.vpcId,
          AvailabilityZone: subnet.availabilityZone,
          Tags: tagList(subnet.tags),
        })),
    };
  }),
  route("ec2", "DescribeNetworkAcls", "ec2:describe", false, (world, input) => {
    world.defaultNetworkAcl();
    const filters = (input.Filters ?? []) as Filter[];
    const ids = input.NetworkAclIds as string[] | undefined;
    const subnets = [...world.subnets.values()];
    return {
      NetworkAcls: [...world.networkAcls.values()]
        .filter(
          (acl) =>
            (!ids || ids.includes(acl.networkAclId)) &&
            filters.every((filter) => {
              if (filter.Name === "network-acl-id") return filter.Values.includes(acl.networkAclId);
              if (filter.Name === "vpc-id") return filter.Values.includes(acl.vpcId);
              if (filter.Name === "association.subnet-id")
                return subnets.some(
                  (subnet) =>
                    filter.Values.includes(subnet.subnetId) &&
                    subnet.networkAclAssociation.networkAclId === acl.networkAclId,
                );
              const tagged = tagFilterMatches(acl.tags, filter);
              if (tagged === undefined) throw invalidFilter(filter);
              return tagged;
            }),
        )
        .map((acl) => ({
          NetworkAclId: acl.networkAclId,
          VpcId: acl.vpcId,
          IsDefault: acl.isDefault,
          Entries: entriesOf(acl.entries),
          Associations: subnets
            .filter((subnet) => subnet.networkAclAssociation.networkAclId === acl.networkAclId)
            .map((subnet) => ({
              NetworkAclAssociationId: subnet.networkAclAssociation.associationId,
              NetworkAclId: acl.networkAclId,
              SubnetId: subnet.subnetId,
            })),
          Tags: tagList(acl.tags),
        })),
    };
  }),
  route("ec2", "CreateNetworkAcl", "ec2:mutate", true, (world, input) => {
    const networkAclId = world.newId("acl");
    // A new network ACL denies all inbound and outbound traffic until rules are added
    // (https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html).
    world.networkAcls.set(networkAclId, {
      networkAclId,
      vpcId: input.VpcId,
      isDefault: false,
      entries: [],
      tags: new Map(Object.entries(tagsOf(input.TagSpecifications, "network-acl"))),
    });
    return {
      NetworkAcl: {
        NetworkAclId: networkAclId,
        VpcId: input.VpcId,
        IsDefault: false,
        Entries: entriesOf([]),
      },
    };
  }),
  route("ec2", "CreateNetworkAclEntry", "ec2:mutate", true, (world, input) => {
    const acl = world.networkAcls.get(input.NetworkAclId);
    if (!acl)
      throw new SimAwsError(
        "InvalidNetworkAclID.NotFound",
        `The network ACL '${input.NetworkAclId}' does not exist`,
      );
    if (
      acl.entries.some(
        (entry) => entry.ruleNumber === input.RuleNumber && entry.egress === (input.Egress === true),
      )
    )
      throw new SimAwsError(
        "NetworkAclEntryAlreadyExists",
        `The network acl entry identified by ${input.RuleNumber} already exists.`,
      );
    acl.entries.push({
      ruleNumber: input.RuleNumber,
      egress: input.Egress === true,
      protocol: String(input.Protocol),
      ruleAction: input.RuleAction,
      cidr: input.CidrBlock ?? input.Ipv6CidrBlock,
    });
    world.networkChanged();
    return {};
  }),
  route("ec2", "DeleteNetworkAclEntry", "ec2:mutate", true, (world, input) => {
    const acl = world.networkAcls.get(input.NetworkAclId);
    if (!acl)
      throw new SimAwsError(
        "InvalidNetworkAclID.NotFound",
        `The network ACL '${input.NetworkAclId}' does not exist`,
      );
    const index = acl.entries.findIndex(
      (entry) => entry.ruleNumber === input.RuleNumber && entry.egress === (input.Egress === true),
    );
    if (index < 0)
      throw new SimAwsError(
        "InvalidNetworkAclEntry.NotFound",
        `The network ACL entry ${input.RuleNumber} does not exist`,
      );
    acl.entries.splice(index, 1);
    world.networkChanged();
    return {};
  }),
  route("ec2", "ReplaceNetworkAclAssociation", "ec2:mutate", true, (world, input) => ({
    NewAssociationId: world.replaceNetworkAclAssociation(input.AssociationId, input.NetworkAclId),
  })),
  route("ec2", "DescribeAddresses", "ec2:describe", false, (world, input) => {
    const filters = (input.Filters ?? []) as Filter[];
    return {
      Addresses: [...world.addresses.values()]
        .filter((address) =>
          filters.every((filter) => {
            if (filter.Name === "instance-id")
              return !!address.instanceId && filter.Values.includes(address.instanceId);
            if (filter.Name === "allocation-id") return filter.Values.includes(address.allocationId);
            throw invalidFilter(filter);
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
    // "This is an idempotent operation" (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisassociateAddress.html).
    if (!address) return {};
    const instance = address.instanceId ? world.instances.get(address.instanceId) : undefined;
    for (const eni of instance?.networkInterfaces ?? []) {
      if (eni.association?.associationId !== input.AssociationId) continue;
      eni.association = undefined;
      world.settlePublicIp(instance as SimInstance, eni);
    }
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
    const { instance, eni } = interfaceOf(world, input.NetworkInterfaceId);
    const associationId = world.newId("eipassoc");
    Object.assign(address, {
      associationId,
      instanceId: instance.instanceId,
      networkInterfaceId: eni.networkInterfaceId,
    });
    eni.association = { allocationId: address.allocationId, associationId, publicIp: address.publicIp };
    world.settlePublicIp(instance, eni);
    return { AssociationId: associationId };
  }),
  route("ec2", "DescribeIamInstanceProfileAssociations", "ec2:describe", false, (world, input) => {
    const filters = (input.Filters ?? []) as Filter[];
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
    world.endProfile(instanceWithAssociation(world, input.AssociationId));
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
