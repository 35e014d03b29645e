import * as z from "zod";
import {
  disassociateAddress,
  ensureIsolationGroups,
  isolateInstanceProfile,
  setInterfaceGroups,
} from "../aws/isolation";
import { QuarantinePlanSchema } from "../engine/quarantine";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const IsolateInputSchema = z.object({ executionId: z.string().min(1), plan: QuarantinePlanSchema });

/**
 * Cuts the instances off. On every network interface: first a group allowing all traffic, which makes the
 * open (tracked) connections untracked, then the isolation group with no rules, which ends them; a single
 * swap would leave them open. Then the Elastic IPs are detached and the instance profile is removed (or
 * swapped for the isolation profile), so no new credentials are issued to the instance.
 */
async function isolateStep({ executionId, plan }: z.output<typeof IsolateInputSchema>) {
  const groupsByVpc = new Map<string, { untrackGroupId: string; isolationGroupId: string }>();
  for (const vpcId of new Set(plan.instances.map((instance) => instance.vpcId)))
    groupsByVpc.set(vpcId, await ensureIsolationGroups(vpcId));
  const actions: { instanceId: string; interfaces: string[]; elasticIps: string[]; profile?: string }[] = [];
  for (const instance of plan.instances) {
    const groups = groupsByVpc.get(instance.vpcId) as { untrackGroupId: string; isolationGroupId: string };
    for (const eni of instance.networkInterfaces)
      await setInterfaceGroups(eni.networkInterfaceId, [groups.untrackGroupId]);
    for (const eni of instance.networkInterfaces)
      await setInterfaceGroups(eni.networkInterfaceId, [groups.isolationGroupId]);
    for (const address of instance.elasticIps)
      if (address.associationId) await disassociateAddress(address.associationId);
    const profile = instance.iamInstanceProfile?.associationId
      ? await isolateInstanceProfile(
          instance.iamInstanceProfile.associationId,
          config().PHOENIX_ISOLATION_PROFILE_ARN,
        )
      : undefined;
    actions.push({
      instanceId: instance.instanceId,
      interfaces: instance.networkInterfaces.map((eni) => eni.networkInterfaceId),
      elasticIps: instance.elasticIps.map((address) => address.publicIp),
      profile,
    });
  }
  logger.warn("instances isolated", { executionId, caseId: plan.caseId, actions });
  return { at: now().toISOString(), groups: Object.fromEntries(groupsByVpc), actions };
}

export const handler = phoenixHandler(IsolateInputSchema, isolateStep);
