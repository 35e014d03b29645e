import * as z from "zod";
import { deleteRolePolicy } from "../aws/credentials";
import { publishEvent } from "../aws/events";
import { tagResources, untagResources } from "../aws/evidence";
import {
  associateAddress,
  restoreInstanceProfile,
  setConnectionTracking,
  setInterfaceGroups,
  setPublicIpv4,
} from "../aws/isolation";
import { replaceAclAssociation, subnetAcl } from "../aws/network-acl";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import { describeSuspects, quarantinedInSubnet } from "../aws/suspects";
import { InvalidInputError } from "../engine/errors";
import { InstanceIdSchema } from "../engine/policy";
import { InstanceNotFoundError, QUARANTINE_TAGS } from "../engine/quarantine";
import { QUARANTINE_TAG } from "../engine/types";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const ReleaseInputSchema = z
  .object({
    instanceId: InstanceIdSchema,
    requestedBy: z.string().min(1).max(256).default("unknown"),
    dryRun: z.boolean().default(false),
  })
  .strict();

/**
 * Ends a quarantine without destroying anything: the recorded security groups, idle timeouts and instance
 * profile go back on, the Elastic IPs come back (one reused meanwhile is left where it is, and said so), the
 * primary interface gets a public IPv4 address again if it had one from Amazon (a new one: AWS cannot give
 * the old one back), the deny on its role's sessions is deleted, its subnet goes back to its network ACL
 * (unless another instance of it is still quarantined), and the quarantine tags come off. The instance stays
 * out of its group, and its evidence (snapshots, protections) stays. A dry run lists what it would do.
 */
async function releaseStep({ instanceId, requestedBy, dryRun }: z.output<typeof ReleaseInputSchema>) {
  const tableName = config().PHOENIX_TABLE;
  const record = await readQuarantineRecord(tableName, instanceId);
  if (record?.status !== "quarantined") {
    throw new InvalidInputError([
      {
        path: "instanceId",
        message: `${instanceId} is not under quarantine${record ? ` (it was ${record.status})` : ""}`,
      },
    ]);
  }
  const [current] = await describeSuspects([instanceId], new Map());
  if (!current || current.state === "terminated")
    throw new InstanceNotFoundError(`${instanceId} no longer exists`, { instanceId });
  const before = record.before;
  const networkAcl = record.containment?.networkAcl;
  const amazonPublicIp = before.networkInterfaces.find(
    (eni) => eni.publicIpFromAmazon && (eni.deviceIndex ?? 0) === 0,
  );
  const actions = [
    ...before.networkInterfaces.map(
      (eni) => `security groups of ${eni.networkInterfaceId} back to ${eni.groups.join(", ")}`,
    ),
    ...before.networkInterfaces
      .filter((eni) => eni.connectionTracking)
      .map(
        (eni) =>
          `idle timeouts of ${eni.networkInterfaceId} back to TCP ${eni.connectionTracking?.tcpEstablishedTimeout} s`,
      ),
    ...(amazonPublicIp
      ? [
          `a public IPv4 address from Amazon's pool on ${amazonPublicIp.networkInterfaceId} again (a new one, not ${amazonPublicIp.publicIp})`,
        ]
      : []),
    ...(before.iamInstanceProfile ? [`instance profile back to ${before.iamInstanceProfile.arn}`] : []),
    ...before.elasticIps.map(
      (address) => `Elastic IP ${address.publicIp} back on ${address.networkInterfaceId}`,
    ),
    ...(record.revocation
      ? [`deny ${record.revocation.policyName} deleted from role ${record.revocation.roleName}`]
      : []),
    ...(networkAcl ? [`subnet ${networkAcl.subnetId} back to network ACL ${networkAcl.previousAclId}`] : []),
    `tags ${QUARANTINE_TAG}, ${Object.values(QUARANTINE_TAGS).join(", ")} removed`,
  ];
  if (dryRun) return { instanceId, caseId: record.caseId, dryRun, actions };
  const skipped: string[] = [];
  for (const eni of before.networkInterfaces) {
    await setInterfaceGroups(eni.networkInterfaceId, eni.groups);
    const timeouts = eni.connectionTracking;
    if (timeouts?.tcpEstablishedTimeout !== undefined)
      await setConnectionTracking(eni.networkInterfaceId, timeouts);
  }
  if (before.iamInstanceProfile) await restoreInstanceProfile(instanceId, before.iamInstanceProfile.arn);
  if (record.revocation) await deleteRolePolicy(record.revocation.roleName, record.revocation.policyName);
  if (networkAcl) {
    const others = (await quarantinedInSubnet(networkAcl.subnetId)).filter((id) => id !== instanceId);
    const association = await subnetAcl(networkAcl.subnetId);
    if (others.length > 0)
      skipped.push(
        `subnet ${networkAcl.subnetId} stays on the deny-all network ACL: ${others.join(", ")} still quarantined`,
      );
    else if (association.associationId && association.networkAclId === networkAcl.isolationAclId)
      await replaceAclAssociation(association.associationId, networkAcl.previousAclId);
  }
  for (const address of before.elasticIps) {
    if (!address.networkInterfaceId) continue;
    try {
      await associateAddress(address.allocationId, address.networkInterfaceId);
    } catch (error) {
      skipped.push(`Elastic IP ${address.publicIp}: ${(error as Error).message}`);
    }
  }
  if (amazonPublicIp) await setPublicIpv4(amazonPublicIp.networkInterfaceId, true);
  await untagResources([instanceId], [QUARANTINE_TAG, ...Object.values(QUARANTINE_TAGS)]);
  const at = now().toISOString();
  await tagResources([instanceId], { "phoenix:quarantine-released": `${record.caseId} ${at}` });
  await writeQuarantineRecord(tableName, { ...record, status: "released", updatedAt: at });
  await publishEvent(config().PHOENIX_EVENT_BUS, "Quarantine Released", {
    instanceId,
    caseId: record.caseId,
    requestedBy,
    actions,
    skipped,
  });
  logger.info("quarantine released", { instanceId, caseId: record.caseId, skipped });
  return { instanceId, caseId: record.caseId, dryRun, actions, skipped };
}

export const handler = phoenixHandler(ReleaseInputSchema, releaseStep);
