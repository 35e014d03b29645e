// Removals: every instance Phoenix terminated or detached must be one the monitor can name a reason for, from
// the world and the requests alone; and every instance Phoenix took out of service must be gone within its
// draining time plus a bound, even when its execution was stopped or timed out.
import type { SimInstance } from "../../sim/model";
import { readStack } from "../../stack";
import { isSuspect } from "./capacity";
import type { ExecutionFacts } from "./facts";
import { scheduleSeconds } from "./rules";
import type { Invariant, InvariantFamily, MonitorContext } from "./types";

/**
 * Slack after draining for the replacement's own steps to notice and terminate: two of its polls
 * (readiness.pollSeconds of its policy, up to 300) and a minute for retried calls, at least five minutes.
 */
export const reapSlackSeconds = (pollSeconds: number) => Math.max(300, 2 * pollSeconds + 60);

/** How often the scheduled sweep runs (serverless.yml's sweepRate): the backstop for stopped executions. */
export function sweepPeriodSeconds(): number {
  return scheduleSeconds(readStack().params.sweepRate ?? "") ?? 3600;
}

/** The longest deregistration delay of a group's target groups (how long its instances drain). */
export function drainSecondsOf(ctx: MonitorContext, groupName: string | undefined): number {
  const group = groupName ? ctx.world.groups.get(groupName) : undefined;
  return Math.max(
    0,
    ...(group?.targetGroupArns ?? []).map(
      (arn) => ctx.world.targetGroups.get(arn)?.deregistrationDelaySeconds ?? 0,
    ),
  );
}

/** Why Phoenix's removal of an instance was right, or undefined when no reason holds. */
function explain(
  ctx: MonitorContext,
  instance: SimInstance,
  removal: "detached" | "terminated",
): string | undefined {
  const by = removal === "detached" ? instance.detachedBy : instance.terminatedBy;
  const caller = by?.caller;
  const execution = ctx.facts.executionOf(caller);
  const at = (removal === "detached" ? instance.detachedBy?.at : instance.terminatedBy?.at) ?? 0;
  const home = ctx.facts.homeGroup.get(instance.instanceId);
  if (execution?.machine === "quarantine-instance") {
    const named = (execution.request.instanceIds as string[] | undefined)?.includes(instance.instanceId);
    return removal === "detached" && named ? `suspect of ${execution.name}` : undefined;
  }
  if (caller?.functionKey === "disposeQuarantine")
    return instance.tags.has("phoenix:quarantined")
      ? "quarantined instance disposed of on request"
      : undefined;
  if (execution?.machine === "replace-group" && execution.groupName === home) {
    const retirable = ctx.facts.retirable(execution);
    if (removal === "detached")
      return retirable.has(instance.instanceId) ? `old instance retired by ${execution.name}` : undefined;
    if (retiredBy(ctx, instance)?.arn === execution.arn)
      return `retired by ${execution.name}, then terminated`;
    const why = (instance.terminatedBy?.why ?? "").toLowerCase();
    // Lowering desired capacity back: Auto Scaling picks the victims; the level is judged by "restored".
    if (why === "scale-in") return `scale-in by ${execution.name} back to the capacity before it`;
    const launchedDuring = instance.launchTime > execution.startedAt;
    if (launchedDuring && (execution.status !== "SUCCEEDED" || !ctx.facts.served.has(instance.instanceId)))
      return `launched by ${execution.name}, which ${execution.status === "SUCCEEDED" ? "never saw it serve" : "rolled back"}`;
    return undefined;
  }
  // The janitor and the sweep finish what a replacement that no longer runs took out of service.
  const retirer = retiredBy(ctx, instance);
  if (removal === "terminated" && retirer && (retirer.endedAt ?? Number.POSITIVE_INFINITY) <= at)
    return `left out of service by ${retirer.name}, which ended ${retirer.status}`;
  return undefined;
}

/** The replacement that detached an instance as one it retires, if one did. */
function retiredBy(ctx: MonitorContext, instance: SimInstance): ExecutionFacts | undefined {
  const execution = ctx.facts.executionOf(instance.detachedBy?.caller);
  if (instance.detachedBy?.actor !== "phoenix" || execution?.machine !== "replace-group") return undefined;
  return ctx.facts.retirable(execution).has(instance.instanceId) ? execution : undefined;
}

export const removals: InvariantFamily = () => {
  const explainedRemoval: Invariant = {
    name: "explainedRemoval",
    promise: "Phoenix terminates or detaches only instances it took out of service for a reason it can name",
    finish(ctx) {
      for (const instance of ctx.world.instances.values()) {
        for (const removal of ["detached", "terminated"] as const) {
          const by = removal === "detached" ? instance.detachedBy : instance.terminatedBy;
          if (by?.actor !== "phoenix") continue;
          // Suspects are the quarantine invariants' to judge.
          if (removal === "terminated" && isSuspect(ctx, instance)) continue;
          if (explain(ctx, instance, removal)) continue;
          const what = instance.terminatedBy?.why ? ` (${instance.terminatedBy.why})` : "";
          ctx.violate(
            "explainedRemoval",
            ctx.facts.homeGroup.get(instance.instanceId),
            `${instance.instanceId} ${removal}${removal === "terminated" ? what : ""} by ${by.caller?.executionArn?.split(":").at(-1) ?? by.caller?.functionKey ?? "phoenix"} ` +
              `(launched ${new Date(instance.launchTime).toISOString().slice(11, 19)}, ${ctx.facts.served.has(instance.instanceId) ? "served" : "never served"}) with no reason the monitor can name`,
            (removal === "detached" ? instance.detachedBy?.at : instance.terminatedBy?.at) ??
              ctx.world.clock.now(),
          );
        }
      }
    },
  };

  const leak: Invariant = {
    name: "leak",
    promise: "every instance Phoenix took out of service is terminated within its drain time plus a bound",
    finish(ctx) {
      for (const { instance, deadline, retirer } of retiredInstances(ctx)) {
        const terminatedAt = instance.terminatedBy?.at;
        const now = ctx.world.clock.now();
        if (terminatedAt !== undefined ? terminatedAt <= deadline : now <= deadline) continue;
        ctx.violate(
          "leak",
          ctx.facts.homeGroup.get(instance.instanceId),
          `${instance.instanceId}, retired by ${retirer.name} (${retirer.status}), ` +
            (terminatedAt === undefined
              ? `still ${instance.state} ${Math.round((now - (instance.detachedBy?.at ?? now)) / 1000)} s after it left service`
              : `terminated ${Math.round((terminatedAt - deadline) / 1000)} s after its bound`),
          Math.min(now, deadline),
        );
      }
    },
  };

  return [explainedRemoval, leak];
};

/**
 * Instances replacements took out of service (detached), with the time by which they must be gone: the
 * drain plus a slack while the replacement still ran that long, else (stopped, timed out, its reap gave
 * up) also the sweep's period, since the janitor and the sweep finish them.
 */
export function retiredInstances(
  ctx: MonitorContext,
): { instance: SimInstance; deadline: number; retirer: ExecutionFacts }[] {
  const found = [];
  for (const instance of ctx.world.instances.values()) {
    const retirer = ctx.facts.executionOf(instance.detachedBy?.caller);
    if (instance.detachedBy?.actor !== "phoenix" || retirer?.machine !== "replace-group") continue;
    if (isSuspect(ctx, instance)) continue;
    const detachedAt = instance.detachedBy.at;
    const drained = detachedAt + drainSecondsOf(ctx, retirer.groupName) * 1000;
    const slack = reapSlackSeconds(pollSecondsOf(retirer)) * 1000;
    // Its own steps had the time to finish it if it still ran then; else the janitor and the sweep do.
    const ranOn = (retirer.endedAt ?? Number.POSITIVE_INFINITY) >= drained + slack;
    const deadline = drained + slack + (ranOn ? 0 : sweepPeriodSeconds() * 1000);
    found.push({ instance, deadline, retirer });
  }
  return found;
}

/** The readiness poll a replacement's policy sets (the request's, else the group's tag; 15 s by default). */
function pollSecondsOf(execution: ExecutionFacts): number {
  const fromPolicy = (policy: unknown) =>
    (policy as { readiness?: { pollSeconds?: unknown } } | undefined)?.readiness?.pollSeconds;
  let tagPolicy: unknown;
  try {
    tagPolicy = JSON.parse(execution.atStart?.tags["phoenix:policy"] ?? "null");
  } catch {
    tagPolicy = undefined;
  }
  const poll = execution.request.policy ? fromPolicy(execution.request.policy) : fromPolicy(tagPolicy);
  return typeof poll === "number" ? poll : 15;
}

/** Instances taken out of service that still run and are not yet past their bound (the campaign waits them out). */
export function pendingRetired(ctx: MonitorContext): { instanceId: string; deadline: number }[] {
  return retiredInstances(ctx)
    .filter(({ instance }) => instance.terminatedBy === undefined)
    .map(({ instance, deadline }) => ({ instanceId: instance.instanceId, deadline }));
}
