// The age sweep's budgets (README: the age sweep), judged at the moment a sweep starts a replacement, from
// the deployment's settings (serverless.yml params, overridden by the scenario's stack settings), the
// group's tags at that moment, and the instances the started execution's input names.
import { readStack } from "../../stack";
import type { ExecutionFacts } from "./facts";
import { durationSeconds, maintenanceWindow, rateBudget, windowOpen } from "./rules";
import type { Invariant, InvariantFamily, MonitorContext } from "./types";

/** The sweep's settings as deployed: the stack param, unless the scenario's environment sets it. */
function setting(env: string, param: string): string | undefined {
  return process.env[env] ?? readStack().params[param];
}

const sweepStarted = (ctx: MonitorContext) =>
  ctx.facts
    .ofMachine("replace-group")
    .filter((execution) => execution.startedBy?.functionKey === "sweepFleet");

const named = (execution: ExecutionFacts) => (execution.request.instanceIds as string[] | undefined) ?? [];

/** When the sweep that started an execution decided to (the schedule's tick, when Lambda was invoked). */
const decidedAt = (execution: ExecutionFacts) => execution.startedBy?.invokedAt ?? execution.startedAt;

export const sweeps: InvariantFamily = () => {
  const budget: Invariant = {
    name: "sweepBudget",
    promise: "a sweep never replaces more instances of a group per rolling window than its rate budget",
    onExecutionStarted(ctx, execution) {
      if (execution.startedBy?.functionKey !== "sweepFleet" || !execution.atStart) return;
      const text =
        execution.atStart.tags["phoenix:rate-budget"] ?? setting("PHOENIX_RATE_BUDGET", "rateBudget");
      const limit = rateBudget(text);
      if (!limit) return;
      // A rolling window ending when this sweep decided (the sweeps' own times, not their calls' latency).
      const inWindow = sweepStarted(ctx).filter(
        (other) =>
          other.groupName === execution.groupName &&
          decidedAt(other) > decidedAt(execution) - limit.windowSeconds * 1000,
      );
      const count = inWindow.reduce((sum, other) => sum + named(other).length, 0);
      if (count > limit.count)
        ctx.violate(
          "sweepBudget",
          execution.groupName,
          `${count} instances started by sweeps within ${text} (${inWindow.map((other) => `${named(other).length} at ${new Date(decidedAt(other)).toISOString().slice(11, 19)}`).join(", ")}); the budget is ${limit.count}`,
        );
    },
  };

  const window: Invariant = {
    name: "sweepWindow",
    promise:
      "a sweep replaces only inside the group's maintenance window (in its time zone), overdue instances excepted",
    onExecutionStarted(ctx, execution) {
      if (execution.startedBy?.functionKey !== "sweepFleet" || !execution.atStart) return;
      const text =
        execution.atStart.tags["phoenix:maintenance-window"] ??
        setting("PHOENIX_MAINTENANCE_WINDOW", "maintenanceWindow");
      const parsed = text ? maintenanceWindow(text) : undefined;
      if (!parsed || windowOpen(parsed, decidedAt(execution))) return;
      const maxAge =
        durationSeconds(
          execution.atStart.tags["phoenix:max-age"] ?? setting("PHOENIX_DEFAULT_MAX_AGE", "defaultMaxAge"),
        ) ?? 0;
      const grace = durationSeconds(setting("PHOENIX_DEADLINE_GRACE", "deadlineGrace")) ?? 0;
      const early = named(execution).filter((id) => {
        const instance = ctx.world.instances.get(id);
        return !instance || (decidedAt(execution) - instance.launchTime) / 1000 <= maxAge + grace;
      });
      if (early.length > 0)
        ctx.violate(
          "sweepWindow",
          execution.groupName,
          `${execution.name} started outside "${text}" for ${early.length} instances not overdue (${early.slice(0, 3).join(", ")})`,
        );
    },
  };

  const concurrency: Invariant = {
    name: "sweepConcurrency",
    promise: "a sweep starts a replacement only while fewer than maxConcurrentGroups groups are replacing",
    onExecutionStarted(ctx, execution) {
      if (execution.startedBy?.functionKey !== "sweepFleet") return;
      const limit = Number(setting("PHOENIX_MAX_CONCURRENT_GROUPS", "maxConcurrentGroups"));
      // Groups replacing now: a running replacement that changed its group, or that a sweep started.
      const replacing = new Set(
        ctx.facts
          .ofMachine("replace-group")
          .filter(
            (other) =>
              other.status === "RUNNING" &&
              (other.firstChangeAt !== undefined || other.startedBy?.functionKey === "sweepFleet"),
          )
          .map((other) => other.groupName),
      );
      if (Number.isFinite(limit) && replacing.size > limit)
        ctx.violate(
          "sweepConcurrency",
          execution.groupName,
          `${replacing.size} groups replacing once ${execution.name} started (${[...replacing].join(", ")}); at most ${limit}`,
        );
    },
  };

  const minAge: Invariant = {
    name: "sweepMinAge",
    promise: "a sweep never replaces an instance younger than minAge",
    onExecutionStarted(ctx, execution) {
      if (execution.startedBy?.functionKey !== "sweepFleet") return;
      const min = durationSeconds(setting("PHOENIX_MIN_AGE", "minAge")) ?? 0;
      const young = named(execution).filter((id) => {
        const instance = ctx.world.instances.get(id);
        return !!instance && (decidedAt(execution) - instance.launchTime) / 1000 < min;
      });
      if (young.length > 0)
        ctx.violate(
          "sweepMinAge",
          execution.groupName,
          `${execution.name} names ${young.length} instances younger than ${setting("PHOENIX_MIN_AGE", "minAge")} (${young.slice(0, 3).join(", ")})`,
        );
    },
  };

  return [budget, window, concurrency, minAge];
};
