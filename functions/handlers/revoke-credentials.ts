import * as z from "zod";
import { putRolePolicy, roleOfInstanceProfile } from "../aws/credentials";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import {
  instanceArn,
  instanceProfileName,
  revocationPolicy,
  revocationPolicyName,
} from "../engine/containment";
import { AwsRequestRejectedError } from "../engine/errors";
import { QuarantinePlanSchema } from "../engine/quarantine";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const RevokeInputSchema = z.object({ executionId: z.string().min(1), plan: QuarantinePlanSchema });

/**
 * Ends the credentials already issued to each suspect (when the stack revokes, param revokeCredentials): its
 * role gets an inline deny for requests from this instance (ec2:SourceInstanceARN) with a token issued
 * before now. Containment already took the profile away, so nothing issued later exists; other instances
 * sharing the role are untouched. A role Phoenix may not change (not tagged phoenix:managed=true, or at its
 * inline policy quota) is said, not hidden: the quarantine then ends incomplete, naming it.
 */
async function revokeStep({ executionId, plan }: z.output<typeof RevokeInputSchema>) {
  if (!plan.options.revokeCredentials)
    return { skipped: "credential revocation is off (param revokeCredentials)", revoked: [], notRevoked: [] };
  const issuedBefore = now();
  const table = config().PHOENIX_TABLE;
  const revoked: { instanceId: string; roleName: string; policyName: string; issuedBefore: string }[] = [];
  const notRevoked: { instanceId: string; reason: string }[] = [];
  for (const instance of plan.instances) {
    const profileArn = instance.iamInstanceProfile?.arn;
    if (!profileArn) continue;
    const policyName = revocationPolicyName(instance.instanceId);
    try {
      const roleName = await roleOfInstanceProfile(instanceProfileName(profileArn));
      if (!roleName) {
        notRevoked.push({
          instanceId: instance.instanceId,
          reason: `instance profile ${profileArn} has no role`,
        });
        continue;
      }
      await putRolePolicy(
        roleName,
        policyName,
        revocationPolicy(instanceArn(profileArn, config().AWS_REGION, instance.instanceId), issuedBefore),
      );
      const revocation = { roleName, policyName, issuedBefore: issuedBefore.toISOString() };
      revoked.push({ instanceId: instance.instanceId, ...revocation });
      const record = await readQuarantineRecord(table, instance.instanceId);
      if (record)
        await writeQuarantineRecord(table, { ...record, revocation, updatedAt: issuedBefore.toISOString() });
    } catch (error) {
      // Throttling and AWS's own faults are retried by the state machine; a refusal is a finding.
      if (!(error instanceof AwsRequestRejectedError)) throw error;
      notRevoked.push({ instanceId: instance.instanceId, reason: error.message });
    }
  }
  logger.warn("credentials revoked", { executionId, caseId: plan.caseId, revoked, notRevoked });
  return { at: issuedBefore.toISOString(), revoked, notRevoked };
}

export const handler = phoenixHandler(RevokeInputSchema, revokeStep);
