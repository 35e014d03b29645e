// Capacity: the floor a replacement keeps and the ceiling it stays under, both computed here from the group's
// desired capacity when the replacement started, every scaling change others made since (the account's
// log), and the request's policy or the group's phoenix:policy tag.
import type { SimInstance } from "../../sim/model";
import type { Invariant, InvariantFamily, MonitorContext } from "./types";

const QUARANTINE_TAG = "phoenix:quarantined";

/** Who took an instance out of service, if Phoenix did: the execution whose call it was. */
export function removedBy(instance: SimInstance): string | undefined {
  if (instance.terminatedBy?.actor === "phoenix" && instance.terminatedBy.caller?.executionArn)
    return instance.terminatedBy.caller.executionArn;
  if (instance.detachedBy?.actor === "phoenix" && instance.detachedBy.caller?.executionArn)
    return instance.detachedBy.caller.executionArn;
  if (instance.deregisteredBy === "phoenix") return instance.deregisteredCaller?.executionArn ?? "phoenix";
  return undefined;
}

/** A suspect stops counting the moment it is quarantined (serving from it is what must stop). */
export function isSuspect(ctx: MonitorContext, instance: SimInstance): boolean {
  if (instance.tags.has(QUARANTINE_TAG)) return true;
  return ctx.facts
    .ofMachine("quarantine-instance")
    .some((execution) =>
      (execution.request.instanceIds as string[] | undefined)?.includes(instance.instanceId),
    );
}

export const capacity: InvariantFamily = () => {
  const servingBefore = new Map<string, Set<string>>();

  const floor: Invariant = {
    name: "floor",
    promise: "healthy in-service capacity never taken below the floor by Phoenix",
    onChange(ctx) {
      for (const group of ctx.world.groups.values()) {
        const serving = new Set(ctx.world.healthyInService(group.groupName));
        ctx.facts.sawServing(serving);
        const before = servingBefore.get(group.groupName) ?? serving;
        servingBefore.set(group.groupName, serving);
        for (const execution of ctx.facts.workingOn(group.groupName)) {
          const lost = [...before].filter((id) => {
            const instance = ctx.world.instances.get(id);
            return (
              !serving.has(id) &&
              !!instance &&
              !isSuspect(ctx, instance) &&
              removedBy(instance) === execution.arn
            );
          });
          const floorNow = ctx.facts.floorFor(execution);
          if (lost.length > 0 && serving.size < floorNow) {
            const terms = ctx.facts.termsOf(execution);
            ctx.violate(
              "floor",
              group.groupName,
              `${execution.name} took ${lost.join(", ")} out of service, leaving ${serving.size} healthy in service; ` +
                `the floor is ${floorNow} (desired ${ctx.facts.desiredFor(execution)} x ${terms.minHealthyPercent}% from the ${terms.source})`,
            );
          }
        }
      }
    },
  };

  const ceiling: Invariant = {
    name: "ceiling",
    promise: "never more instances than MaxSize (or what others scaled to) plus the surge",
    onChange(ctx) {
      for (const group of ctx.world.groups.values()) {
        const working = ctx.facts.workingOn(group.groupName);
        if (working.length === 0) continue;
        const active = ctx.world.activeMembers(group).length;
        // MaxSize as it was when each started, or the desired capacity others (a scaling policy) took the
        // group to meanwhile, plus the surge and a stand-in for each old instance something else took out;
        // AZRebalance may launch before it terminates.
        const limit =
          Math.max(
            ...working.map(
              (execution) =>
                Math.max(execution.atStart?.maxSize ?? 0, ctx.facts.desiredFor(execution)) +
                ctx.facts.surgeFor(execution) +
                ctx.facts.lostToOthers(execution),
            ),
          ) +
          (group.rebalanceSurplus ?? 0) +
          quarantineRaises(ctx, group.groupName);
        if (active > limit)
          ctx.violate(
            "ceiling",
            group.groupName,
            `${active} instances launching or in service; MaxSize plus the surge allows ${limit}`,
          );
      }
    },
  };

  return [floor, ceiling];
};

/** Capacity a running quarantine added to a group (it raises desired capacity before its suspect leaves). */
function quarantineRaises(ctx: MonitorContext, groupName: string): number {
  const running = new Set(
    ctx.facts
      .ofMachine("quarantine-instance")
      .filter((execution) => execution.endedAt === undefined)
      .map((execution) => execution.arn),
  );
  return (ctx.facts.desiredChanges.get(groupName) ?? [])
    .filter((change) => running.has(change.by.caller?.executionArn ?? "") && change.to > change.from)
    .reduce((sum, change) => sum + change.to - change.from, 0);
}
