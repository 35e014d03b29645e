// What "contained" means to the monitor, read from the simulated account alone: which paths still reach a
// suspect (its interfaces' security groups and their rules, public addresses, open flows, its instance
// profile), which of them AWS documents that no security group can end (ICMP and automatically tracked
// flows: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html), and
// whether credentials issued to it before containment still work (judged by a real IAM evaluator on the
// role's policies as they are, local/sim/credentials.ts). The quarantine family (quarantine.ts) uses these.
import { credentialHonoured, lastCredentialBeforeRemoval } from "../../sim/credentials";
import type { SimInstance, SimNetworkInterface } from "../../sim/model";
import type { SimWorld } from "../../sim/world";
import { readStack } from "../../stack";

/** Paths that still reach a contained suspect: none may remain but the residual ones AWS documents. */
export function openAfterContainment(world: SimWorld, instance: SimInstance, profileArn?: string): string[] {
  const open = world
    .openPaths(instance)
    // An instance profile swapped for an isolation profile is contained; the old one is not (below).
    .filter((item) => !item.residual && !item.path.startsWith("instance profile"))
    .map((item) => item.path);
  if (profileArn && instance.iamInstanceProfile?.arn === profileArn) open.push(`still holds ${profileArn}`);
  return open;
}

/** Whether one of the interface's security groups allows all traffic in (IPv4 or IPv6). */
export function allowsAllIn(world: SimWorld, eni: SimNetworkInterface): boolean {
  return eni.groups.some((id) =>
    world.securityGroups
      .get(id)
      ?.ingress.some((rule) => rule.protocol === "-1" && (rule.cidr === "0.0.0.0/0" || rule.cidr === "::/0")),
  );
}

/** The public address of an interface, Elastic or Amazon's, if it has one. */
export const publicAddressOf = (eni: SimNetworkInterface) => eni.association?.publicIp ?? eni.publicIp;

/** Whether the stack as deployed revokes a suspect's credentials (param, unless the environment sets it). */
export function revocationConfigured(): boolean {
  const value = process.env.PHOENIX_REVOKE_CREDENTIALS ?? readStack().params.revokeCredentials;
  return String(value ?? "true") !== "false";
}

/**
 * The last credentials issued to the suspect under its role before the role was taken from it, if IAM still
 * honours them at `at` (not expired, not denied by the role's policies): what a thief still holds.
 */
export async function credentialsStillWork(
  world: SimWorld,
  instance: SimInstance,
  at: number,
): Promise<string | undefined> {
  const stolen = lastCredentialBeforeRemoval(world, instance);
  if (!stolen || !(await credentialHonoured(world, stolen, at)).honoured) return undefined;
  return `credentials issued at ${new Date(stolen.issuedAt).toISOString()} for ${stolen.roleArn}`;
}
