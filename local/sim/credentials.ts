// Instance-role credentials in the simulated account: which credentials the instance metadata service handed
// an instance, and whether IAM still honours them. Removing an instance's profile stops new credentials, but
// those already issued stay valid until they expire; only a deny on the role conditioned on the token's issue
// time ends them (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).
// Policies are evaluated by a real IAM policy evaluator (@cloud-copilot/iam-simulate), not by this file.
import type { SimInstance } from "./model";
import type { SimWorld } from "./world";

/** A set of credentials the metadata service handed an instance. */
export interface IssuedCredential {
  instanceId: string;
  roleArn: string;
  issuedAt: number;
}

/**
 * The latest credentials an instance was handed for a role at or before `at`: one set when the profile was
 * associated, then a new set every `credentialRefreshSeconds` while it stays
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html).
 */
export function latestCredential(
  world: SimWorld,
  instance: SimInstance,
  at: number,
): IssuedCredential | undefined {
  const refresh = world.timing.credentialRefreshSeconds * 1000;
  const sessions = instance.roleSessions.filter((session) => session.from <= at);
  const session = sessions.at(-1);
  if (!session) return undefined;
  const until = Math.min(at, session.to ?? at);
  const issuedAt = session.from + Math.floor((until - session.from) / refresh) * refresh;
  return { instanceId: instance.instanceId, roleArn: session.roleArn, issuedAt };
}

/**
 * The last credentials issued to an instance under its role before that role was taken away (or now, if it
 * still holds it): the ones an attacker who read the metadata service last holds.
 */
export function lastCredentialBeforeRemoval(
  world: SimWorld,
  instance: SimInstance,
): IssuedCredential | undefined {
  const session = instance.roleSessions[0];
  if (!session) return undefined;
  const end = session.to !== undefined ? session.to - 1 : world.clock.now();
  const refresh = world.timing.credentialRefreshSeconds * 1000;
  return {
    instanceId: instance.instanceId,
    roleArn: session.roleArn,
    issuedAt: session.from + Math.floor((end - session.from) / refresh) * refresh,
  };
}

type Simulate = typeof import("@cloud-copilot/iam-simulate").runSimulation;
let simulate: Simulate | undefined;

/**
 * Whether AWS would still honour a request made with these credentials at `at`: not expired, and not denied
 * by the role's policies. Each role here is allowed everything by its attached policies (what it may do does
 * not matter, only whether its sessions still work), then its inline policies apply. Requests made with
 * instance-role credentials carry the instance's ARN as ec2:SourceInstanceARN and the token's issue time as
 * aws:TokenIssueTime (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
 */
export async function credentialHonoured(
  world: SimWorld,
  credential: IssuedCredential,
  at: number,
): Promise<{ honoured: boolean; why: string }> {
  if (credential.issuedAt + world.timing.credentialLifetimeSeconds * 1000 <= at)
    return { honoured: false, why: "expired" };
  const role = [...world.roles.values()].find((item) => item.arn === credential.roleArn);
  if (!role) return { honoured: false, why: "the role no longer exists" };
  simulate ??= (await import("@cloud-copilot/iam-simulate")).runSimulation;
  const allowAll = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };
  const result = await simulate(
    {
      request: {
        principal: `arn:aws:sts::${world.accountId}:assumed-role/${role.roleName}/${credential.instanceId}`,
        action: "s3:ListAllMyBuckets",
        resource: { resource: "*", accountId: world.accountId },
        contextVariables: {
          "ec2:SourceInstanceARN": `arn:aws:ec2:${world.region}:${world.accountId}:instance/${credential.instanceId}`,
          "aws:TokenIssueTime": new Date(credential.issuedAt).toISOString(),
          "aws:CurrentTime": new Date(at).toISOString(),
        },
      },
      identityPolicies: [
        { name: "attached", policy: allowAll },
        ...[...role.inlinePolicies].map(([name, document]) => ({ name, policy: JSON.parse(document) })),
      ],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  const verdict = (result as { result?: { analysis?: { result?: string } } }).result?.analysis?.result;
  if (verdict === undefined)
    throw new Error(`IAM simulation failed: ${JSON.stringify(result).slice(0, 500)}`);
  return { honoured: verdict === "Allowed", why: verdict };
}
