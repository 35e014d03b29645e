// Containing a suspect, as data: the exact rules of the two isolation groups, the idle timeouts that end
// tracked flows soonest, the IAM deny that ends credentials already issued to the instance, and what is
// still open once containment ran (from the instance as AWS describes it, not from what Phoenix meant to do).
// Pure: no SDK, no clock.
import { PhoenixError } from "./errors";
import type { SuspectInstance } from "./quarantine";

/** Tag on what Phoenix creates to isolate with; its value says which one ("untrack", "isolate", "network-acl"). */
export const ISOLATION_TAG = "phoenix:isolation";
/** Subnets tagged so (value "allowed") may be cut off whole by a network ACL when that mode is on. */
export const NETWORK_ACL_OPT_IN_TAG = "phoenix:isolation-nacl";

/** A security group rule as Phoenix compares them: protocol "-1" is all traffic, IPv6 CIDRs have colons. */
export interface RuleSpec {
  protocol: string;
  fromPort?: number;
  toPort?: number;
  cidr: string;
}

const ALL_TRAFFIC: RuleSpec[] = [
  { protocol: "-1", cidr: "0.0.0.0/0" },
  { protocol: "-1", cidr: "::/0" },
];

/**
 * Exactly the rules each isolation group must have. Step 1 allows all IPv4 and IPv6 traffic both ways, so
 * EC2 stops tracking the flows it can untrack; step 2 has no rule at all, which ends every untracked flow
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html).
 */
export const ISOLATION_GROUP_RULES = {
  untrack: { ingress: ALL_TRAFFIC, egress: ALL_TRAFFIC },
  isolate: { ingress: [] as RuleSpec[], egress: [] as RuleSpec[] },
} as const;
export type IsolationGroupRole = keyof typeof ISOLATION_GROUP_RULES;

const ruleKey = (rule: RuleSpec) =>
  rule.protocol === "-1"
    ? `-1|${rule.cidr}`
    : `${rule.protocol}|${rule.fromPort ?? ""}|${rule.toPort ?? ""}|${rule.cidr}`;

/** What to revoke and what to authorize so that a group has exactly `wanted` (a group is reconciled, never trusted). */
export function ruleChanges(
  current: RuleSpec[],
  wanted: RuleSpec[],
): { revoke: RuleSpec[]; authorize: RuleSpec[] } {
  const have = new Set(current.map(ruleKey));
  const want = new Set(wanted.map(ruleKey));
  return {
    revoke: current.filter((rule) => !want.has(ruleKey(rule))),
    authorize: wanted.filter((rule) => !have.has(ruleKey(rule))),
  };
}

/**
 * The shortest idle timeouts EC2 allows, so that a tracked flow no rule allows any more ends as soon as it
 * idles (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ConnectionTrackingSpecificationRequest.html).
 */
export const MINIMUM_CONNECTION_TRACKING = {
  tcpEstablishedTimeout: 60,
  udpStreamTimeout: 60,
  udpTimeout: 30,
} as const;

/** What no security group change can end, as AWS documents it: listed in every manifest. */
export const RESIDUAL_PATHS = [
  "Flows EC2 tracks automatically whatever the rules (through a NAT gateway, Network Load Balancer, Gateway Load Balancer, Transit Gateway, Global Accelerator, AWS Network Firewall, an interface VPC endpoint, an egress-only internet gateway, or Lambda's network interfaces) and ICMP flows go on after the security group change while they are busy; with the idle timeouts at their minimum (TCP 60 s, UDP 60/30 s) they end once idle. Only a network ACL ends them at once (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html).",
  "Traffic between instances of the same subnet never crosses a network ACL.",
  "Anything the instance already sent (data, credentials, a second foothold) is out of reach of containment.",
];

/** The inline policy name of the deny put on a suspect's role. */
export const revocationPolicyName = (instanceId: string) => `phoenix-quarantine-${instanceId}`;

/** The instance's ARN, in the partition, region and account of its instance profile. */
export function instanceArn(profileArn: string, region: string, instanceId: string): string {
  const [, partition = "aws", , , account = ""] = profileArn.split(":");
  return `arn:${partition}:ec2:${region}:${account}:instance/${instanceId}`;
}

/**
 * The deny that ends credentials already issued to one instance: every action, for sessions whose requests
 * come from this instance (ec2:SourceInstanceARN) and whose token was issued before `issuedBefore`. Other
 * instances sharing the role are untouched, and so is anything issued after (the instance has no profile by
 * then, so it gets none) (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).
 */
export function revocationPolicy(arn: string, issuedBefore: Date): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "PhoenixQuarantineRevokeSessions",
        Effect: "Deny",
        Action: "*",
        Resource: "*",
        Condition: {
          StringEquals: { "ec2:SourceInstanceARN": arn },
          DateLessThan: { "aws:TokenIssueTime": issuedBefore.toISOString() },
        },
      },
    ],
  });
}

/** The role name in an instance profile ARN's last segment is the profile's name. */
export const instanceProfileName = (profileArn: string) => profileArn.split("/").at(-1) ?? profileArn;

/**
 * What still connects a suspect, from the instance as AWS describes it now: interfaces not in the isolation
 * group alone, public IPv4 addresses (Elastic or Amazon's), and the instance profile it had before (it could
 * still get credentials). An empty list means the network containment holds.
 */
export function stillOpen(
  now: SuspectInstance,
  isolationGroupIds: ReadonlySet<string>,
  previousProfileArn?: string,
): string[] {
  const open: string[] = [];
  for (const eni of now.networkInterfaces) {
    const isolated = eni.groups.length === 1 && isolationGroupIds.has(eni.groups[0] as string);
    if (!isolated)
      open.push(
        `${eni.networkInterfaceId} is in ${eni.groups.join(", ") || "no group"}, not the isolation group alone`,
      );
    if (eni.publicIp) open.push(`${eni.networkInterfaceId} has public IPv4 ${eni.publicIp}`);
  }
  for (const address of now.elasticIps.filter((item) => item.associationId))
    open.push(`Elastic IP ${address.publicIp} is still associated`);
  if (previousProfileArn && now.iamInstanceProfile?.arn === previousProfileArn)
    open.push(
      `instance profile ${previousProfileArn} is still associated: the instance can get new credentials`,
    );
  return open;
}

/** AWS answered that a resource Phoenix just created does not exist yet (eventual consistency): retry later. */
export class EventualConsistencyError extends PhoenixError {
  override name = "EventualConsistencyError";
}
