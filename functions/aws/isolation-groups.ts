// The two isolation security groups of a VPC: found by Phoenix's tags (never trusted by name), created when
// missing, and reconciled to exactly their rules every time, so that a group left half-made by an earlier
// failure (say, with EC2's default allow-all egress still on) is repaired before any instance is put in it.
// EC2 is eventually consistent: a group just created may be "not found" for a while; that is reported as
// EventualConsistencyError, which the state machine retries with backoff
// (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type IpPermission,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
} from "@aws-sdk/client-ec2";
import {
  EventualConsistencyError,
  ISOLATION_GROUP_RULES,
  ISOLATION_TAG,
  type IsolationGroupRole,
  type RuleSpec,
  ruleChanges,
} from "../engine/containment";
import { AwsRequestRejectedError } from "../engine/errors";
import { ISOLATION_GROUP_NAME, UNTRACK_GROUP_NAME } from "../engine/quarantine";
import { MANAGED_TAG } from "../engine/types";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const ec2 = () => clientFor("ec2", () => new EC2Client(sdkClientDefaults));

const NAMES: Record<IsolationGroupRole, string> = {
  untrack: UNTRACK_GROUP_NAME,
  isolate: ISOLATION_GROUP_NAME,
};
const DESCRIPTIONS: Record<IsolationGroupRole, string> = {
  untrack:
    "Phoenix isolation, step 1: all traffic allowed (IPv4 and IPv6) so that open connections are untracked",
  isolate: "Phoenix isolation: no traffic in or out",
};

/** The AWS error code of a rejected call, if it was one. */
const codeOf = (error: unknown) =>
  error instanceof AwsRequestRejectedError ? (error.context as { code?: string }).code : undefined;

/** Runs a call on a group Phoenix just found or made; "not found" means not propagated yet. */
async function onFreshGroup<T>(operation: string, groupId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await callAws(operation, call);
  } catch (error) {
    if (codeOf(error) === "InvalidGroup.NotFound")
      throw new EventualConsistencyError(`${operation}: security group ${groupId} not visible yet`, {
        groupId,
        operation,
      });
    throw error;
  }
}

/** Rules as EC2 lists them, including references to other groups and prefix lists (those are rules too). */
function rulesOf(permissions: IpPermission[] = []): RuleSpec[] {
  return permissions.flatMap((permission) => {
    const base = {
      protocol: permission.IpProtocol ?? "-1",
      fromPort: permission.IpProtocol === "-1" ? undefined : permission.FromPort,
      toPort: permission.IpProtocol === "-1" ? undefined : permission.ToPort,
    };
    return [
      ...(permission.IpRanges ?? []).map((range) => ({ ...base, cidr: range.CidrIp ?? "" })),
      ...(permission.Ipv6Ranges ?? []).map((range) => ({ ...base, cidr: range.CidrIpv6 ?? "" })),
      ...(permission.UserIdGroupPairs ?? []).map((pair) => ({ ...base, cidr: `sg:${pair.GroupId}` })),
      ...(permission.PrefixListIds ?? []).map((list) => ({ ...base, cidr: `pl:${list.PrefixListId}` })),
    ];
  });
}

/** One rule as an IpPermission for Authorize/Revoke. */
function permissionOf(rule: RuleSpec): IpPermission {
  const ports = rule.protocol === "-1" ? {} : { FromPort: rule.fromPort, ToPort: rule.toPort };
  const base = { IpProtocol: rule.protocol, ...ports };
  if (rule.cidr.startsWith("sg:")) return { ...base, UserIdGroupPairs: [{ GroupId: rule.cidr.slice(3) }] };
  if (rule.cidr.startsWith("pl:")) return { ...base, PrefixListIds: [{ PrefixListId: rule.cidr.slice(3) }] };
  if (rule.cidr.includes(":")) return { ...base, Ipv6Ranges: [{ CidrIpv6: rule.cidr }] };
  return { ...base, IpRanges: [{ CidrIp: rule.cidr }] };
}

/** Phoenix's isolation group of a role in a VPC, found by its tags. */
async function findTagged(vpcId: string, role: IsolationGroupRole): Promise<SecurityGroup | undefined> {
  const response = await callAws("DescribeSecurityGroups", () =>
    ec2().send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: "vpc-id", Values: [vpcId] },
          { Name: `tag:${ISOLATION_TAG}`, Values: [role] },
          { Name: `tag:${MANAGED_TAG}`, Values: ["true"] },
        ],
      }),
    ),
  );
  return response.SecurityGroups?.[0];
}

/**
 * Creates the group. A name taken by a group that is not Phoenix's (one an older version made untagged, or
 * anyone's) makes Phoenix use the next free name; a name taken by Phoenix's own group that is not listed
 * yet is eventual consistency, retried later.
 */
async function create(vpcId: string, role: IsolationGroupRole): Promise<string> {
  for (const name of [NAMES[role], `${NAMES[role]}-2`, `${NAMES[role]}-3`]) {
    try {
      const created = await callAws("CreateSecurityGroup", () =>
        ec2().send(
          new CreateSecurityGroupCommand({
            GroupName: name,
            Description: DESCRIPTIONS[role],
            VpcId: vpcId,
            TagSpecifications: [
              {
                ResourceType: "security-group",
                Tags: [
                  { Key: MANAGED_TAG, Value: "true" },
                  { Key: ISOLATION_TAG, Value: role },
                ],
              },
            ],
          }),
        ),
      );
      return created.GroupId as string;
    } catch (error) {
      if (codeOf(error) !== "InvalidGroup.Duplicate") throw error;
      const named = await callAws("DescribeSecurityGroups", () =>
        ec2().send(
          new DescribeSecurityGroupsCommand({
            Filters: [
              { Name: "vpc-id", Values: [vpcId] },
              { Name: "group-name", Values: [name] },
            ],
          }),
        ),
      );
      const existing = named.SecurityGroups?.[0];
      const ours = existing?.Tags?.some((tag) => tag.Key === ISOLATION_TAG && tag.Value === role);
      if (!existing || ours)
        throw new EventualConsistencyError(
          `isolation group ${name} of ${vpcId} exists but is not listed yet`,
          {
            vpcId,
            name,
          },
        );
    }
  }
  throw new AwsRequestRejectedError(`no free name for the ${role} isolation group of ${vpcId}`, {
    vpcId,
    role,
  });
}

/** Sets a group's rules to exactly what its role requires: extra rules revoked, missing ones authorized. */
async function reconcile(
  groupId: string,
  role: IsolationGroupRole,
): Promise<{ revoked: number; authorized: number }> {
  const described = await onFreshGroup("DescribeSecurityGroups", groupId, () =>
    ec2().send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] })),
  );
  const group = described.SecurityGroups?.[0];
  if (!group) throw new EventualConsistencyError(`security group ${groupId} not visible yet`, { groupId });
  const wanted = ISOLATION_GROUP_RULES[role];
  const ingress = ruleChanges(rulesOf(group.IpPermissions), [...wanted.ingress]);
  const egress = ruleChanges(rulesOf(group.IpPermissionsEgress), [...wanted.egress]);
  // Revoke first: a half-made isolation group must lose its open rules before anything else.
  if (ingress.revoke.length > 0)
    await onFreshGroup("RevokeSecurityGroupIngress", groupId, () =>
      ec2().send(
        new RevokeSecurityGroupIngressCommand({
          GroupId: groupId,
          IpPermissions: ingress.revoke.map(permissionOf),
        }),
      ),
    );
  if (egress.revoke.length > 0)
    await onFreshGroup("RevokeSecurityGroupEgress", groupId, () =>
      ec2().send(
        new RevokeSecurityGroupEgressCommand({
          GroupId: groupId,
          IpPermissions: egress.revoke.map(permissionOf),
        }),
      ),
    );
  try {
    if (ingress.authorize.length > 0)
      await onFreshGroup("AuthorizeSecurityGroupIngress", groupId, () =>
        ec2().send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: ingress.authorize.map(permissionOf),
          }),
        ),
      );
    if (egress.authorize.length > 0)
      await onFreshGroup("AuthorizeSecurityGroupEgress", groupId, () =>
        ec2().send(
          new AuthorizeSecurityGroupEgressCommand({
            GroupId: groupId,
            IpPermissions: egress.authorize.map(permissionOf),
          }),
        ),
      );
  } catch (error) {
    // Someone (a concurrent quarantine) added a rule meanwhile: read the group again and finish the job.
    if (codeOf(error) !== "InvalidPermission.Duplicate") throw error;
    return reconcile(groupId, role);
  }
  return {
    revoked: ingress.revoke.length + egress.revoke.length,
    authorized: ingress.authorize.length + egress.authorize.length,
  };
}

/**
 * The two groups isolation needs in a VPC, each found by tag or created, then reconciled to exactly its
 * rules: one allowing all IPv4 and IPv6 traffic both ways (applied first, so tracked connections become
 * untracked) and one with no rules at all. Returns their ids and how many rules were repaired.
 */
export async function ensureIsolationGroups(
  vpcId: string,
): Promise<{ untrackGroupId: string; isolationGroupId: string; repairedRules: number }> {
  const ids: Partial<Record<IsolationGroupRole, string>> = {};
  let repairedRules = 0;
  for (const role of ["untrack", "isolate"] as const) {
    const found = await findTagged(vpcId, role);
    const groupId = found?.GroupId ?? (await create(vpcId, role));
    const changes = await reconcile(groupId, role);
    // A new group comes with EC2's allow-all egress: fixing that is creation, not repair.
    if (found) repairedRules += changes.revoked + changes.authorized;
    ids[role] = groupId;
  }
  return {
    untrackGroupId: ids.untrack as string,
    isolationGroupId: ids.isolate as string,
    repairedRules,
  };
}
