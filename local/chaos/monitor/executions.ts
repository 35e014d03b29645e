// How replacements end and what they leave: each one that changed its group ends completed, rolled back or
// reclaimed by the janitor, and says so on the bus; the group is left as the request and the group's state
// before say; one replacement works on a group at a time; and its lock neither lapses while it runs nor
// outlives it.
import type { ExecutionFacts } from "./facts";
import type { Invariant, InvariantFamily, MonitorContext } from "./types";

/** The event an ended replacement owes, by how it ended (README: what a replacement does; the janitor). */
function announcement(execution: ExecutionFacts): { detailType: string; by: "itself" | "the janitor" } {
  if (execution.status === "SUCCEEDED") return { detailType: "Replacement Completed", by: "itself" };
  if (execution.status === "FAILED" && execution.error === "ReplacementRolledBack")
    return { detailType: "Replacement Rolled Back", by: "itself" };
  return { detailType: "Replacement Abandoned", by: "the janitor" };
}

function announced(ctx: MonitorContext, execution: ExecutionFacts): boolean {
  const { detailType, by } = announcement(execution);
  return ctx.world.events.some(
    (event) =>
      event.detailType === detailType &&
      (by === "itself"
        ? event.caller?.executionArn === execution.arn
        : (event.detail as { executionArn?: string }).executionArn === execution.arn),
  );
}

/** How long after its execution ended a lock may still be held: the janitor's event and calls. */
export const LOCK_RELEASE_BOUND_SECONDS = 300;

export const executions: InvariantFamily = () => {
  const ended: Invariant = {
    name: "ended",
    promise:
      "every replacement that changed its group ended completed, rolled back or reclaimed, and said so",
    finish(ctx) {
      for (const execution of ctx.facts.executions.values()) {
        if (execution.status === "RUNNING") {
          ctx.violate("ended", execution.groupName, `${execution.name} (${execution.machine}) still running`);
          continue;
        }
        if (execution.machine !== "replace-group" || execution.firstChangeAt === undefined) continue;
        const rolledBack = execution.status === "FAILED" && execution.error === "ReplacementRolledBack";
        const stopped = execution.status === "ABORTED" || execution.status === "TIMED_OUT";
        if (execution.status === "FAILED" && !rolledBack)
          ctx.violate(
            "ended",
            execution.groupName,
            `${execution.name} changed the group and ended FAILED ${execution.error ?? ""}, neither completed nor rolled back`,
            execution.endedAt,
          );
        if (!announced(ctx, execution)) {
          const { detailType, by } = announcement(execution);
          ctx.violate(
            "ended",
            execution.groupName,
            `${execution.name} ended ${execution.status}${stopped ? "" : ` ${execution.error ?? ""}`} and ${by} put no "${detailType}" for it`,
            execution.endedAt,
          );
        }
      }
    },
  };

  const restored: Invariant = {
    name: "restored",
    promise:
      "the group's version, sizes, desired capacity and processes as they should be after every execution",
    finish(ctx) {
      for (const [groupName, initial] of ctx.facts.initial) {
        const group = ctx.world.groups.get(groupName);
        const touched = ctx.facts
          .ofMachine("replace-group")
          .filter((execution) => execution.groupName === groupName && execution.firstChangeAt !== undefined)
          .sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
        const last = touched.at(-1);
        if (!group || !last?.atStart || touched.some((execution) => execution.status === "RUNNING")) continue;
        const start = last.atStart;
        const completed = last.status === "SUCCEEDED";
        const stopped = last.status === "ABORTED" || last.status === "TIMED_OUT";
        const expectedVersion = completed ? ctx.facts.targetVersionOf(last) : start.version;
        const problems: string[] = [];
        if (group.launchTemplate.version !== expectedVersion)
          problems.push(
            `launch template version ${group.launchTemplate.version}, expected ${expectedVersion}`,
          );
        if (!stopped) {
          const { low, high } = expectedDesired(ctx, last);
          if (group.desiredCapacity < low || group.desiredCapacity > high)
            problems.push(
              `desired capacity ${group.desiredCapacity}, expected ${low}${high > low ? ` to ${high}` : ""}`,
            );
        }
        if (group.maxSize !== Math.max(start.maxSize, group.desiredCapacity))
          problems.push(
            `MaxSize ${group.maxSize}, expected ${Math.max(start.maxSize, group.desiredCapacity)}`,
          );
        if (group.minSize !== Math.min(start.minSize, group.desiredCapacity))
          problems.push(
            `MinSize ${group.minSize}, expected ${Math.min(start.minSize, group.desiredCapacity)}`,
          );
        // Processes a quarantine suspended are the quarantine's to resume (and its invariants' to judge).
        const quarantines = quarantineProcesses(ctx, groupName);
        const judged = (names: Iterable<string>) =>
          [...names].filter((name) => !quarantines.has(name)).sort();
        const now = judged(group.suspendedProcesses).join(",");
        const before = judged(initial.suspended).join(",");
        if (now !== before) problems.push(`suspended processes [${now}], expected [${before}]`);
        if (problems.length > 0)
          ctx.violate("restored", groupName, `after ${last.name} (${last.status}): ${problems.join("; ")}`);
      }
    },
  };

  const reportedPairs = new Set<string>();
  const exclusive: Invariant = {
    name: "exclusive",
    promise: "never two replacements changing one group at once",
    onLog(ctx, entry) {
      const execution = ctx.facts.executionOf(entry.caller);
      if (execution?.machine !== "replace-group" || execution.firstChangeAt === undefined) return;
      if (entry.groupName !== execution.groupName) return;
      for (const other of ctx.facts.workingOn(execution.groupName ?? "")) {
        const pair = `${other.arn} ${execution.arn}`;
        if (other.arn === execution.arn || other.status !== "RUNNING" || reportedPairs.has(pair)) continue;
        reportedPairs.add(pair);
        ctx.violate(
          "exclusive",
          execution.groupName,
          `${execution.name} changes the group while ${other.name} runs`,
        );
      }
    },
  };

  const lapsed = new Set<string>();
  const lock: Invariant = {
    name: "lock",
    promise: "a group's lock never lapses while its replacement runs and never outlives it",
    onChange(ctx) {
      const now = ctx.world.clock.now();
      for (const [groupName, item] of ctx.facts.locks) {
        const holder = ctx.facts.executions.get(item.owner);
        if (!holder) continue;
        const key = `${item.owner} ${item.expiresAt}`;
        if (holder.status === "RUNNING" && Math.floor(now / 1000) > item.expiresAt && !lapsed.has(key)) {
          lapsed.add(key);
          ctx.violate(
            "lock",
            groupName,
            `the lease of ${holder.name} ran out at ${new Date(item.expiresAt * 1000).toISOString().slice(11, 19)} while it still ran`,
          );
        }
        // Its own last step releases it; after a stop, the janitor (on Step Functions' status event) does.
        const ended = holder.endedAt;
        if (
          ended !== undefined &&
          now > ended + LOCK_RELEASE_BOUND_SECONDS * 1000 &&
          !lapsed.has(`${key} left`)
        ) {
          lapsed.add(`${key} left`);
          ctx.violate(
            "lock",
            groupName,
            `still locked by ${holder.name} ${Math.round((now - ended) / 1000)} s after it ended ${holder.status}`,
          );
        }
      }
    },
    finish(ctx) {
      for (const [groupName, item] of ctx.facts.locks) {
        const holder = ctx.facts.executions.get(item.owner);
        if (holder?.status === "RUNNING" || lapsed.has(`${item.owner} ${item.expiresAt} left`)) continue;
        ctx.violate(
          "lock",
          groupName,
          `still locked by ${holder?.name ?? item.owner} after it ended ${holder?.status ?? "(unknown execution)"}`,
        );
      }
    },
  };

  return [ended, restored, exclusive, lock];
};

/**
 * Desired capacity a replacement leaves: as it found it, moved by what others changed (a rollback puts it
 * back, so only changes after its end count then); a completed one may leave one more for each instance it
 * was to replace that something else took out meanwhile (the stand-in and the new one both stay).
 */
function expectedDesired(ctx: MonitorContext, execution: ExecutionFacts): { low: number; high: number } {
  const completed = execution.status === "SUCCEEDED";
  const others = (ctx.facts.desiredChanges.get(execution.groupName ?? "") ?? []).filter(
    (change) =>
      change.by.caller?.executionArn !== execution.arn &&
      change.at > (completed ? execution.startedAt : (execution.endedAt ?? 0)),
  );
  const low =
    (execution.atStart?.desired ?? 0) + others.reduce((sum, change) => sum + change.to - change.from, 0);
  if (!completed) return { low, high: low };
  return { low, high: low + ctx.facts.lostToOthers(execution) };
}

/** Processes any quarantine suspended on a group during the run. */
function quarantineProcesses(ctx: MonitorContext, groupName: string): Set<string> {
  const names = new Set<string>();
  for (const entry of ctx.world.log) {
    if (entry.kind !== "processes" || entry.groupName !== groupName) continue;
    if (ctx.facts.executionOf(entry.caller)?.machine !== "quarantine-instance") continue;
    for (const name of (entry.data?.suspended as string[] | undefined) ?? []) names.add(name);
  }
  return names;
}
