import * as z from "zod";
import { suspendProcesses } from "../aws/autoscaling";
import { tagResources } from "../aws/evidence";
import {
  disassociateAddress,
  isolateInstanceProfile,
  setConnectionTracking,
  setInterfaceGroups,
  setPublicIpv4,
} from "../aws/isolation";
import { ensureIsolationGroups } from "../aws/isolation-groups";
import { ensureIsolationAcl, replaceAclAssociation, subnetAcl } from "../aws/network-acl";
import { readQuarantineRecord, writeQuarantineRecord } from "../aws/quarantine-records";
import { describeSuspects } from "../aws/suspects";
import { MINIMUM_CONNECTION_TRACKING } from "../engine/containment";
import {
  type ConnectionTracking,
  InstanceNotFoundError,
  QUARANTINE_SUSPENDED_PROCESSES,
  QUARANTINE_TAGS,
  QuarantinePlanSchema,
} from "../engine/quarantine";
import { QUARANTINE_TAG } from "../engine/types";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const IsolateInputSchema = z.object({ executionId: z.string().min(1), plan: QuarantinePlanSchema });

const sameTimeouts = (a: ConnectionTracking | undefined, b: ConnectionTracking) =>
  a?.tcpEstablishedTimeout === b.tcpEstablishedTimeout &&
  a?.udpStreamTimeout === b.udpStreamTimeout &&
  a?.udpTimeout === b.udpTimeout;

/**
 * The first thing a quarantine changes: it contains the suspects. In order, for each suspect:
 * 1. the record release needs (the instance as it was), before anything changes, the quarantine tags,
 *    which every Phoenix replacement and sweep honours (so none retires the suspect meanwhile), and the
 *    group's ReplaceUnhealthy and AZRebalance paused (a cut-off suspect fails its health checks);
 * 2. the isolation groups of its VPC found by tag and reconciled to exactly their rules;
 * 3. no public address: Amazon's public IPv4 off, then the Elastic IPs disassociated, so that nothing on the
 *    internet can use the moment step 5 opens all traffic;
 * 4. connection tracking's idle timeouts at their minimum, so tracked flows no rule allows end once idle;
 * 5. on each interface, the all-traffic group (IPv4 and IPv6: flows become untracked), then the isolation
 *    group with no rules (untracked flows end); if the second fails, the first is put back, never left open;
 * 6. the instance profile removed (or swapped for the isolation profile): no new credentials;
 * 7. in network ACL mode, its subnet (when tagged phoenix:isolation-nacl=allowed) moved to a deny-all
 *    network ACL, which ends every flow at once, the automatically tracked ones too.
 * Every step reads what is there first, so a retry carries on where an attempt stopped.
 */
async function isolateStep({ executionId, plan }: z.output<typeof IsolateInputSchema>) {
  const at = now().toISOString();
  const table = config().PHOENIX_TABLE;
  for (const instance of plan.instances) {
    const existing = await readQuarantineRecord(table, instance.instanceId);
    if (existing?.status === "quarantined" && existing.caseId === plan.caseId) continue;
    await writeQuarantineRecord(table, {
      instanceId: instance.instanceId,
      caseId: plan.caseId,
      status: "quarantined",
      reason: plan.reason,
      actor: plan.requestedBy,
      quarantinedAt: at,
      before: instance,
      snapshots: [],
      updatedAt: at,
    });
  }
  // Claimed at once: every Phoenix replacement and sweep leaves a tagged instance alone, so none retires or
  // terminates a suspect while its containment waits on EC2 (a new group not visible yet, say).
  await tagResources(plan.instanceIds, {
    [QUARANTINE_TAG]: plan.caseId,
    [QUARANTINE_TAGS.case]: plan.caseId,
    [QUARANTINE_TAGS.reason]: plan.reason.slice(0, 256),
    [QUARANTINE_TAGS.actor]: plan.requestedBy.slice(0, 256),
    [QUARANTINE_TAGS.at]: at,
  });
  // And Auto Scaling may not replace it: once cut off, the suspect fails its load balancer's health checks,
  // and a group that may ReplaceUnhealthy terminates it (Preserve pauses these too; this must come first).
  if (plan.group)
    await suspendProcesses(
      plan.group.groupName,
      QUARANTINE_SUSPENDED_PROCESSES.filter((process) => !plan.group?.suspendedBefore.includes(process)),
    );
  const vpcs = [...new Set(plan.instances.map((instance) => instance.vpcId))];
  const groupsByVpc = new Map<
    string,
    { untrackGroupId: string; isolationGroupId: string; repairedRules: number }
  >();
  for (const vpcId of vpcs) groupsByVpc.set(vpcId, await ensureIsolationGroups(vpcId));
  const aclSubnets =
    plan.options.networkAcl === "tagged-subnets"
      ? plan.instances.filter((instance) => instance.subnet?.networkAclAllowed)
      : [];
  const aclByVpc = new Map<string, string>();
  for (const vpcId of new Set(aclSubnets.map((instance) => instance.vpcId)))
    aclByVpc.set(vpcId, await ensureIsolationAcl(vpcId));

  const current = new Map(
    (await describeSuspects(plan.instanceIds, new Map())).map((instance) => [instance.instanceId, instance]),
  );
  const actions = [];
  for (const planned of plan.instances) {
    const instance = current.get(planned.instanceId);
    if (!instance)
      throw new InstanceNotFoundError(`${planned.instanceId} no longer exists`, {
        instanceId: planned.instanceId,
      });
    const groups = groupsByVpc.get(instance.vpcId) ?? groupsByVpc.get(planned.vpcId);
    if (!groups) throw new Error(`no isolation groups for ${instance.vpcId}`);
    const steps: string[] = [];
    const publicAddressesRemoved: string[] = [];
    const primary = instance.networkInterfaces.find((eni) => (eni.deviceIndex ?? 0) === 0);
    if (primary?.publicIp) {
      await setPublicIpv4(primary.networkInterfaceId, false);
      if (primary.publicIpFromAmazon) publicAddressesRemoved.push(primary.publicIp);
      steps.push(
        primary.publicIpFromAmazon
          ? `public IPv4 ${primary.publicIp} released from ${primary.networkInterfaceId}`
          : `public IPv4 assignment off on ${primary.networkInterfaceId} (so detaching the Elastic IP brings no new address)`,
      );
    }
    for (const address of instance.elasticIps.filter((item) => item.associationId)) {
      await disassociateAddress(address.associationId as string);
      publicAddressesRemoved.push(address.publicIp);
      steps.push(`Elastic IP ${address.publicIp} disassociated`);
    }
    for (const eni of instance.networkInterfaces) {
      if (sameTimeouts(eni.connectionTracking, MINIMUM_CONNECTION_TRACKING)) continue;
      await setConnectionTracking(eni.networkInterfaceId, MINIMUM_CONNECTION_TRACKING);
      steps.push(`idle timeouts of ${eni.networkInterfaceId} at their minimum (TCP 60 s, UDP 60/30 s)`);
    }
    for (const eni of instance.networkInterfaces) {
      if (eni.groups.length === 1 && eni.groups[0] === groups.isolationGroupId) continue;
      const original =
        planned.networkInterfaces.find((item) => item.networkInterfaceId === eni.networkInterfaceId)
          ?.groups ?? eni.groups;
      if (!(eni.groups.length === 1 && eni.groups[0] === groups.untrackGroupId))
        await setInterfaceGroups(eni.networkInterfaceId, [groups.untrackGroupId]);
      try {
        await setInterfaceGroups(eni.networkInterfaceId, [groups.isolationGroupId]);
      } catch (error) {
        // Never leave an interface in the all-traffic group: put back what step 1 changed, then fail (the
        // state machine retries the whole step, which starts again from what is there).
        try {
          await setInterfaceGroups(eni.networkInterfaceId, original);
          logger.error("isolation group not applied; all-traffic group taken off again", {
            networkInterfaceId: eni.networkInterfaceId,
            restored: original,
          });
        } catch (revertError) {
          logger.error("isolation group not applied, and the all-traffic group could not be taken off", {
            networkInterfaceId: eni.networkInterfaceId,
            revertError: (revertError as Error).message,
          });
        }
        throw error;
      }
      steps.push(`${eni.networkInterfaceId}: all-traffic group, then the isolation group`);
    }
    let profile: string | undefined;
    if (
      instance.iamInstanceProfile?.associationId &&
      instance.iamInstanceProfile.arn !== plan.options.isolationProfileArn
    ) {
      profile = await isolateInstanceProfile(
        instance.iamInstanceProfile.associationId,
        plan.options.isolationProfileArn,
      );
      steps.push(`instance profile ${instance.iamInstanceProfile.arn} ${profile}`);
    }
    let networkAcl: { subnetId: string; previousAclId: string; isolationAclId: string } | undefined;
    const isolationAclId = aclByVpc.get(planned.vpcId);
    if (isolationAclId && planned.subnet?.networkAclAllowed) {
      const association = await subnetAcl(planned.subnet.subnetId);
      if (association.associationId && association.networkAclId !== isolationAclId) {
        await replaceAclAssociation(association.associationId, isolationAclId);
        steps.push(`subnet ${planned.subnet.subnetId} moved to the deny-all network ACL ${isolationAclId}`);
      }
      networkAcl = {
        subnetId: planned.subnet.subnetId,
        previousAclId: planned.subnet.networkAclId ?? association.networkAclId ?? "",
        isolationAclId,
      };
      const record = await readQuarantineRecord(table, planned.instanceId);
      if (record && !record.containment?.networkAcl)
        await writeQuarantineRecord(table, { ...record, containment: { networkAcl }, updatedAt: at });
    }
    actions.push({
      instanceId: planned.instanceId,
      steps,
      interfaces: instance.networkInterfaces.map((eni) => eni.networkInterfaceId),
      publicAddressesRemoved,
      profile,
      networkAcl,
    });
  }
  logger.warn("instances contained", { executionId, caseId: plan.caseId, actions });
  return {
    at,
    groups: Object.fromEntries(
      [...groupsByVpc].map(([vpcId, { untrackGroupId, isolationGroupId }]) => [
        vpcId,
        { untrackGroupId, isolationGroupId },
      ]),
    ),
    repairedRules: [...groupsByVpc.values()].reduce((sum, item) => sum + item.repairedRules, 0),
    actions,
  };
}

export const handler = phoenixHandler(IsolateInputSchema, isolateStep);
