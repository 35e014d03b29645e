import * as z from "zod";
import { publishEvent } from "../aws/events";
import { tagResources, untagResources } from "../aws/evidence";
import {
  associateAddress,
  describeSuspects,
  restoreInstanceProfile,
  setInterfaceGroups,
} from "../aws/isolation";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
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
 * Ends a quarantine without destroying anything: the recorded security groups go back on every network
 * interface, the recorded instance profile and Elastic IPs come back (an Elastic IP reused meanwhile is left
 * where it is, and said so), and the quarantine tags come off. The instance stays out of its group, and its
 * evidence (snapshots, protections) stays. A dry run lists what it would do.
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
  const actions = [
    ...before.networkInterfaces.map(
      (eni) => `security groups of ${eni.networkInterfaceId} back to ${eni.groups.join(", ")}`,
    ),
    ...(before.iamInstanceProfile ? [`instance profile back to ${before.iamInstanceProfile.arn}`] : []),
    ...before.elasticIps.map(
      (address) => `Elastic IP ${address.publicIp} back on ${address.networkInterfaceId}`,
    ),
    `tags ${QUARANTINE_TAG}, ${Object.values(QUARANTINE_TAGS).join(", ")} removed`,
  ];
  if (dryRun) return { instanceId, caseId: record.caseId, dryRun, actions };
  for (const eni of before.networkInterfaces) await setInterfaceGroups(eni.networkInterfaceId, eni.groups);
  if (before.iamInstanceProfile) await restoreInstanceProfile(instanceId, before.iamInstanceProfile.arn);
  const skipped: string[] = [];
  for (const address of before.elasticIps) {
    if (!address.networkInterfaceId) continue;
    try {
      await associateAddress(address.allocationId, address.networkInterfaceId);
    } catch (error) {
      skipped.push(`Elastic IP ${address.publicIp}: ${(error as Error).message}`);
    }
  }
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
