// Least privilege, one IAM role per function: each function may call exactly the AWS actions its own bundle
// calls (local/permissions.ts reads them from the code), each scoped by the rule for that action below.
// Mutating Auto Scaling and EC2 actions only reach resources tagged phoenix:managed=true, the way Karpenter
// scopes its own right to terminate. `npm run permissions -- --write` regenerates deploy/iam.yml, which
// serverless.yml gives each function (serverless-iam-roles-per-function makes the roles).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { actionsByFunction } from "../local/permissions";
import { REPO_ROOT } from "../local/stack";

type Resource = string | Record<string, unknown>;

/** One grant: actions on resources, under a condition. */
interface Grant {
  sid: string;
  resources: Resource[];
  condition?: Record<string, Record<string, string | string[]>>;
}

/** An ARN in this stack's region and account ("arn:aws:<service>:<region>:<account>:<resource>"). */
const arn = (service: string, resource: string, account: "this" | "any" = "this"): Resource => ({
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

const MANAGED = { StringEquals: { "aws:ResourceTag/phoenix:managed": "true" } };
/** An IAM ARN of this account (IAM is global: no region). */
const iamArn = (resource: string): Resource => ({
  "Fn::Join": ["", ["arn:aws:iam::", { Ref: "AWS::AccountId" }, `:${resource}`]],
});
const MANAGED_GROUP = { StringEquals: { "autoscaling:ResourceTag/phoenix:managed": "true" } };

/** Reads that AWS does not scope by resource: allowed on "*". */
const isRead = (action: string) => /^(autoscaling|ec2|elasticloadbalancing|cloudwatch):(Describe|Get|List)/.test(action);

/** The grant(s) each action needs. An action without a rule fails generation: every permission is decided. */
const RULES: Record<string, Grant[]> = {
  // Phoenix's own table, bus, workflows and parameters.
  "dynamodb:*": [{ sid: "PhoenixTable", resources: [{ "Fn::GetAtt": ["PhoenixTable", "Arn"] }] }],
  "events:PutEvents": [{ sid: "PhoenixEvents", resources: [arn("events", "event-bus/${param:eventBus}")] }],
  "states:StartExecution": [{ sid: "PhoenixWorkflows", resources: [arn("states", "stateMachine:phoenix-*-${sls:stage}")] }],
  "states:DescribeExecution": [
    { sid: "PhoenixExecutions", resources: [arn("states", "execution:phoenix-*-${sls:stage}:*")] },
  ],
  "ssm:GetParameter": [{ sid: "GoldenAmiParameters", resources: [arn("ssm", "parameter${param:goldenAmiPrefix}*")] }],
  "imagebuilder:GetImage": [{ sid: "BuiltImages", resources: [arn("imagebuilder", "image/*")] }],
  // Groups: only managed ones.
  "autoscaling:*": [{ sid: "ManagedGroups", resources: ["*"], condition: MANAGED_GROUP }],
  // Traffic: the target groups of this account.
  "elasticloadbalancing:RegisterTargets": [
    { sid: "TargetGroups", resources: [arn("elasticloadbalancing", "targetgroup/*/*")] },
  ],
  "elasticloadbalancing:DeregisterTargets": [
    { sid: "TargetGroups", resources: [arn("elasticloadbalancing", "targetgroup/*/*")] },
  ],
  // Instances: only managed ones; terminated only once marked retiring (by a replacement) or quarantined
  // (dispose).
  "ec2:ModifyInstanceAttribute": [{ sid: "ManagedInstances", resources: [arn("ec2", "instance/*")], condition: MANAGED }],
  "ec2:DisassociateIamInstanceProfile": [
    { sid: "ManagedInstances", resources: [arn("ec2", "instance/*")], condition: MANAGED },
  ],
  "ec2:ReplaceIamInstanceProfileAssociation": [
    { sid: "ManagedInstances", resources: [arn("ec2", "instance/*")], condition: MANAGED },
  ],
  "ec2:AssociateIamInstanceProfile": [
    { sid: "ManagedInstances", resources: [arn("ec2", "instance/*")], condition: MANAGED },
  ],
  "ec2:DeleteTags": [{ sid: "ManagedInstances", resources: [arn("ec2", "instance/*")], condition: MANAGED }],
  "ec2:CreateTags": [
    { sid: "ManagedInstances", resources: [arn("ec2", "instance/*")], condition: MANAGED },
    {
      sid: "TagWhatPhoenixCreates",
      resources: [arn("ec2", "snapshot/*", "any"), arn("ec2", "security-group/*"), arn("ec2", "network-acl/*")],
      condition: {
        StringEquals: {
          "ec2:CreateAction": ["CreateSnapshot", "CreateSnapshots", "CreateSecurityGroup", "CreateNetworkAcl"],
        },
      },
    },
  ],
  "ec2:TerminateInstances": [
    {
      sid: "RetiringInstances",
      resources: [arn("ec2", "instance/*")],
      condition: {
        StringEquals: { "aws:ResourceTag/phoenix:managed": "true" },
        StringLike: { "aws:ResourceTag/phoenix:retiring": "*" },
      },
    },
    {
      sid: "QuarantinedInstances",
      resources: [arn("ec2", "instance/*")],
      condition: {
        StringEquals: { "aws:ResourceTag/phoenix:managed": "true" },
        StringLike: { "aws:ResourceTag/phoenix:quarantined": "*" },
      },
    },
  ],
  // Evidence: snapshots are created tagged as such.
  "ec2:CreateSnapshot": [
    {
      sid: "EvidenceSnapshots",
      resources: [arn("ec2", "snapshot/*", "any")],
      condition: { StringLike: { "aws:RequestTag/phoenix:quarantined": "*" } },
    },
    { sid: "EvidenceVolumes", resources: [arn("ec2", "volume/*")] },
  ],
  // One crash-consistent set of a managed instance's volumes.
  "ec2:CreateSnapshots": [
    {
      sid: "EvidenceSnapshots",
      resources: [arn("ec2", "snapshot/*", "any")],
      condition: { StringLike: { "aws:RequestTag/phoenix:quarantined": "*" } },
    },
    { sid: "EvidenceVolumes", resources: [arn("ec2", "volume/*")] },
    { sid: "ManagedInstances", resources: [arn("ec2", "instance/*")], condition: MANAGED },
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
  // Network interfaces carry no tags of their own: scoped to this account and region; the groups put on
  // them are the isolation groups, or (release) the ones recorded before. The call also authorises the
  // instance the interface is attached to: only managed ones.
  "ec2:ModifyNetworkInterfaceAttribute": [
    {
      sid: "SuspectInterfaces",
      resources: [arn("ec2", "network-interface/*"), arn("ec2", "security-group/*"), arn("ec2", "subnet/*")],
    },
    { sid: "ManagedInstances", resources: [arn("ec2", "instance/*")], condition: MANAGED },
  ],
  "ec2:DisassociateAddress": [
    { sid: "SuspectAddresses", resources: [arn("ec2", "elastic-ip/*"), arn("ec2", "network-interface/*")] },
  ],
  "ec2:AssociateAddress": [
    { sid: "SuspectAddresses", resources: [arn("ec2", "elastic-ip/*"), arn("ec2", "network-interface/*")] },
  ],
  // Image pinning: new versions of managed launch templates only.
  "ec2:CreateLaunchTemplateVersion": [
    { sid: "ManagedLaunchTemplates", resources: [arn("ec2", "launch-template/*")], condition: MANAGED },
  ],
};

/**
 * Actions a call implies that the code never sends itself. Setting a group's launch template makes AWS
 * check that the caller could launch from it (ec2:RunInstances through Auto Scaling, tagging at launch,
 * passing the template's instance role); changing an instance profile passes a role.
 */
export const IMPLIED: Record<string, string[]> = {
  "autoscaling:UpdateAutoScalingGroup": ["ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"],
  "ec2:ReplaceIamInstanceProfileAssociation": ["iam:PassRole"],
  "ec2:AssociateIamInstanceProfile": ["iam:PassRole"],
};

const IMPLIED_GRANTS: Record<string, Grant[]> = {
  "ec2:RunInstances": [
    {
      sid: "LaunchManagedInstances",
      resources: [arn("ec2", "instance/*"), arn("ec2", "volume/*"), arn("ec2", "network-interface/*")],
      condition: {
        StringEquals: { "aws:RequestTag/phoenix:managed": "true", "aws:CalledViaLast": "autoscaling.amazonaws.com" },
      },
    },
    {
      sid: "LaunchFromManagedTemplates",
      resources: [
        arn("ec2", "image/*", "any"),
        arn("ec2", "subnet/*"),
        arn("ec2", "security-group/*"),
        arn("ec2", "key-pair/*"),
        arn("ec2", "launch-template/*"),
      ],
      condition: { StringEquals: { "aws:CalledViaLast": "autoscaling.amazonaws.com" } },
    },
  ],
  "ec2:CreateTags": [
    {
      sid: "TagAtLaunch",
      resources: [arn("ec2", "instance/*"), arn("ec2", "volume/*"), arn("ec2", "network-interface/*")],
      condition: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
    },
  ],
  "iam:PassRole": [
    {
      sid: "PassInstanceRoles",
      resources: [{ "Fn::Join": ["", ["arn:aws:iam::", { Ref: "AWS::AccountId" }, ":role/*"]] }],
      condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
    },
  ],
};

/** The grants for one action. */
function grantsFor(action: string, implied: boolean): Grant[] {
  if (implied) return IMPLIED_GRANTS[action] ?? [];
  if (isRead(action)) return [{ sid: "Read", resources: ["*"] }];
  const [service] = action.split(":");
  const grants = RULES[action] ?? RULES[`${service}:*`];
  if (!grants) throw new Error(`no IAM rule for ${action}: decide its resources and conditions in deploy/permissions.ts`);
  return grants;
}

/** IAM statements for a function that calls `actions`. */
export function statementsFor(actions: string[]): Record<string, unknown>[] {
  const implied = [...new Set(actions.flatMap((action) => IMPLIED[action] ?? []))];
  const bySid = new Map<string, { grant: Grant; actions: Set<string> }>();
  const add = (action: string, isImplied: boolean) => {
    for (const grant of grantsFor(action, isImplied)) {
      const entry = bySid.get(grant.sid) ?? { grant, actions: new Set<string>() };
      entry.actions.add(action);
      bySid.set(grant.sid, entry);
    }
  };
  for (const action of actions) add(action, false);
  for (const action of implied) add(action, true);
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
  for (const [key, actions] of await actionsByFunction()) document[key] = statementsFor(actions);
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
    for (const [key, actions] of await actionsByFunction()) console.log(`${key.padEnd(24)} ${actions.join(" ")}`);
  }
}

/** A statement as CloudFormation holds it. */
export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * What is wrong with one function's role, given the actions its code calls: an action it calls but may
 * not (it would fail in AWS), one it may but never calls (not least privilege), a wildcard action, or a
 * mutating Auto Scaling or EC2 action on "*" without a phoenix:managed tag condition.
 */
export function policyProblems(statements: PolicyStatement[], called: string[]): string[] {
  const problems: string[] = [];
  const own = statements.filter((statement) => !asList(statement.Action).every((action) => action.startsWith("logs:")));
  const allowed = new Set(own.flatMap((statement) => asList(statement.Action)));
  const needed = new Set([...called, ...called.flatMap((action) => IMPLIED[action] ?? [])]);
  for (const action of needed) if (!allowed.has(action)) problems.push(`calls ${action} but may not`);
  for (const action of allowed) {
    if (action.includes("*")) problems.push(`wildcard action ${action}`);
    else if (!needed.has(action)) problems.push(`may call ${action} but never does`);
  }
  for (const statement of own) {
    const onEverything = asList(statement.Resource).includes("*");
    const tagScoped = Object.values(statement.Condition ?? {}).some((keys) =>
      Object.keys(keys).some((key) => /(Resource|Request)Tag\/phoenix:managed$/.test(key)),
    );
    for (const action of asList(statement.Action)) {
      const mutating = /^(autoscaling|ec2):/.test(action) && !isRead(action);
      if (mutating && onEverything && !tagScoped)
        problems.push(`${action} on * without a phoenix:managed tag condition (${statement.Sid ?? "no Sid"})`);
    }
  }
  return problems;
}
