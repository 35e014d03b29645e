import type { z } from "zod";
import { updateGroup } from "../aws/autoscaling";
import { describeHealthAcross } from "../aws/elbv2";
import { readGroup } from "../aws/fleet";
import { BelowFloorError } from "../engine/errors";
import { settleCapacity } from "../engine/restore";
import { ReplacementPlanSchema, StepSchema } from "../engine/schemas";
import { servingMembers } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const SettleInputSchema = StepSchema.extend({ plan: ReplacementPlanSchema });

/**
 * The last step of a rollback: desired capacity, MinSize and MaxSize exactly as before. Lowering desired
 * capacity lets Auto Scaling choose what to terminate, so while that could cost the floor this step fails
 * with BelowFloorError and the state machine tries again a little later.
 */
async function settleStep({ groupName, plan }: z.output<typeof SettleInputSchema>) {
  const group = await readGroup(groupName);
  const serving = servingMembers(
    group,
    await describeHealthAcross(
      group.targetGroupArns,
      group.instances.map((instance) => instance.instanceId),
    ),
  );
  const settlement = settleCapacity({
    previous: plan.previous,
    current: group,
    serving: serving.length,
    floor: plan.capacity.floor,
  });
  if (settlement.action === "wait")
    throw new BelowFloorError(settlement.reason, { groupName, surplus: settlement.surplus });
  await updateGroup({ groupName, ...settlement.update });
  logger.info("capacity settled", { ...settlement.update, surplus: settlement.surplus });
  return { settledAt: now().toISOString(), ...settlement.update, surplus: settlement.surplus };
}

export const handler = phoenixHandler(SettleInputSchema, settleStep);
