// Phoenix's promises, checked at every simulated moment of a run and once at its end. The monitor learns
// each execution's plan from the real Tasks' results (it never recomputes one), and tells Phoenix's doing
// from AWS's and the faults' by the actor the simulated account records on every termination and
// deregistration.
import { readLockedGroups } from "../../functions/aws/lock";
import type { ReplacementPlan } from "../../functions/engine/plan";
import type { QuarantinePlan } from "../../functions/engine/quarantine";
import { QUARANTINE_TAG } from "../../functions/engine/types";
import { config } from "../../functions/runtime/config";
import type { SimInstance } from "../sim/model";
import type { Simulation } from "../simulation";
import { QUARANTINE_INVARIANTS, QuarantineWatch } from "./quarantine-invariants";

/** The invariants, by name. */
export const INVARIANTS = {
  floor: "healthy in-service capacity never taken below the floor by Phoenix",
  ceiling: "never more instances than MaxSize plus the surge",
  unnamedTermination: "no instance terminated that the plan did not name",
  evidence: "a quarantined instance is never terminated",
  ended: "every execution ends completed or rolled back",
  restored: "the group's version, sizes and processes restored",
  lock: "the group's lock released",
  exclusive: "never two replacements of one group at once",
  staleImage: "an image published earlier never replaces a newer one",
  ...QUARANTINE_INVARIANTS,
} as const;
export type InvariantName = keyof typeof INVARIANTS;

/** One broken promise, with when and what. */
export interface Violation {
  invariant: InvariantName;
  at: number;
  groupName?: string;
  detail: string;
}

interface Replacement {
  executionId: string;
  groupName: string;
  plan: ReplacementPlan;
  /** Set once Prepare ran: from then on the group is changed and must be restored. */
  prepared: boolean;
  ended: boolean;
}

type Intercept = NonNullable<Simulation["interceptTask"]>;

const TERMINAL = new Set(["ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"]);

/** Watches one simulation for broken promises. Install before anything starts; call `finish` at the end. */
export class InvariantMonitor {
  readonly violations: Violation[] = [];
  readonly replacements = new Map<string, Replacement>();
  readonly quarantines = new Map<string, QuarantinePlan>();
  private readonly healthyBefore = new Map<string, Set<string>>();
  private readonly seenTerminations = new Set<string>();
  private readonly initial: Map<
    string,
    { version: string; minSize: number; maxSize: number; desired: number; suspended: string[] }
  >;
  /** Changes of desired capacity made by faults (scaling policies), per group, with when. */
  readonly externalDesired = new Map<string, { at: number; delta: number }[]>();
  /** Quarantine's own promises (quarantine-invariants.ts). */
  private readonly quarantine: QuarantineWatch;

  constructor(private readonly sim: Simulation) {
    const { world } = sim;
    this.quarantine = new QuarantineWatch(sim, (invariant, groupName, detail) =>
      this.violate(invariant, groupName, detail),
    );
    this.initial = new Map(
      [...world.groups.values()].map((group) => [
        group.groupName,
        {
          version: group.launchTemplate.version,
          minSize: group.minSize,
          maxSize: group.maxSize,
          desired: group.desiredCapacity,
          suspended: [...group.suspendedProcesses].sort(),
        },
      ]),
    );
    for (const group of world.groups.values())
      this.healthyBefore.set(group.groupName, new Set(world.healthyInService(group.groupName)));
    world.onChange(() => this.check());
    world.onLog((entry) => {
      if (entry.kind === "instance-terminating" || entry.kind === "instance-terminated") this.check();
    });
    sim.onExecutionEvent((event) => {
      if (!TERMINAL.has(event.type)) return;
      for (const replacement of this.replacements.values()) {
        if (replacement.executionId.endsWith(`:${event.executionName}`)) replacement.ended = true;
      }
    });
  }

  /** Wraps the Tasks of every execution to learn plans and see who holds which group (fault injection may wrap it too). */
  readonly intercept: Intercept = async (task, call) => {
    const input = task.input as { executionId?: string; groupName?: string };
    if (task.functionKey === "prepareGroup" && input.executionId && input.groupName) {
      const holders = [...this.replacements.values()].filter(
        (other) =>
          other.groupName === input.groupName &&
          other.prepared &&
          !other.ended &&
          other.executionId !== input.executionId,
      );
      if (holders.length > 0)
        this.violate(
          "exclusive",
          input.groupName,
          `${input.executionId} prepares while ${holders[0]?.executionId} runs`,
        );
      const replacement = this.replacements.get(input.executionId);
      if (replacement) replacement.prepared = true;
    }
    this.quarantine.beforeTask(task);
    let result: unknown;
    try {
      result = await call();
    } catch (error) {
      this.quarantine.afterTask(task, false);
      throw error;
    }
    this.quarantine.afterTask(task, true);
    if (task.functionKey === "planReplacement") {
      const { executionId, groupName, plan } = result as {
        executionId: string;
        groupName: string;
        plan: ReplacementPlan;
      };
      this.replacements.set(executionId, { executionId, groupName, plan, prepared: false, ended: false });
    }
    if (task.functionKey === "validateQuarantine") {
      const { executionId, plan } = result as { executionId: string; plan: QuarantinePlan };
      this.quarantines.set(executionId, plan);
    }
    return result;
  };

  private violate(invariant: InvariantName, groupName: string | undefined, detail: string): void {
    this.violations.push({ invariant, at: this.sim.world.clock.now(), groupName, detail });
  }

  private active(groupName: string): Replacement[] {
    return [...this.replacements.values()].filter(
      (replacement) => replacement.groupName === groupName && replacement.prepared && !replacement.ended,
    );
  }

  private isSuspect(instance: SimInstance): boolean {
    return (
      instance.tags.has(QUARANTINE_TAG) ||
      [...this.quarantines.values()].some((plan) => plan.instanceIds.includes(instance.instanceId))
    );
  }

  /** Every moment something changed: floor, ceiling, terminations, and quarantined suspects. */
  private check(): void {
    const { world } = this.sim;
    this.quarantine.check();
    for (const group of world.groups.values()) {
      const healthy = new Set(world.healthyInService(group.groupName));
      const before = this.healthyBefore.get(group.groupName) ?? new Set<string>();
      this.healthyBefore.set(group.groupName, healthy);
      const running = this.active(group.groupName);
      if (running.length === 0) continue;
      const floor = Math.max(...running.map((replacement) => replacement.plan.capacity.floor));
      // A loss is Phoenix's when Phoenix deregistered or terminated the instance; a suspect stops counting
      // the moment it is quarantined (serving from it is what the responder wants stopped).
      const lostByPhoenix = [...before].filter((id) => {
        if (healthy.has(id)) return false;
        const instance = world.instances.get(id);
        return (
          !!instance &&
          !this.isSuspect(instance) &&
          (instance.deregisteredBy === "phoenix" || instance.terminatedBy?.actor === "phoenix")
        );
      });
      if (healthy.size < floor && lostByPhoenix.length > 0) {
        this.violate(
          "floor",
          group.groupName,
          `${healthy.size} healthy in service after Phoenix took ${lostByPhoenix.join(", ")} out; floor ${floor}`,
        );
      }
      const quarantineRaise = [...this.quarantines.values()]
        .filter((plan) => plan.group?.groupName === group.groupName)
        .reduce((sum, plan) => sum + (plan.group?.raiseBy ?? 0), 0);
      const ceiling =
        Math.max(...running.map((replacement) => replacement.plan.capacity.maxSizeLimit)) +
        quarantineRaise +
        // AZRebalance launches before it terminates, above desired capacity (AWS allows it 10% more).
        (group.rebalanceSurplus ?? 0);
      const active = world.activeMembers(group).length;
      if (active > ceiling)
        this.violate(
          "ceiling",
          group.groupName,
          `${active} instances launching or in service; at most ${ceiling}`,
        );
    }
    for (const instance of world.instances.values()) {
      if (!instance.terminatedBy || this.seenTerminations.has(instance.instanceId)) continue;
      this.seenTerminations.add(instance.instanceId);
      this.checkTermination(instance);
    }
  }

  private checkTermination(instance: SimInstance): void {
    const { actor, why } = instance.terminatedBy as { actor: string; why: string };
    if (this.isSuspect(instance)) {
      this.violate("evidence", instance.groupName, `${instance.instanceId} terminated by ${actor} (${why})`);
      return;
    }
    if (actor !== "phoenix") return;
    // A retired instance is detached before EC2 terminates it, so it may belong to no group any more.
    const named = [...this.replacements.values()].some((replacement) =>
      replacement.plan.waves.some((wave) => wave.instanceIds.includes(instance.instanceId)),
    );
    const plans = [...this.replacements.values()].filter(
      (replacement) => replacement.groupName === instance.groupName,
    );
    // Instances launched after a plan was made are that replacement's own (rolled back ones go again).
    const launchedSince = plans.some(
      (replacement) => instance.launchTime >= Date.parse(replacement.plan.plannedAt),
    );
    if (!named && !launchedSince) {
      this.violate(
        "unnamedTermination",
        instance.groupName,
        `${instance.instanceId} (launched ${new Date(instance.launchTime).toISOString()}) terminated by Phoenix (${why}) though no plan named it`,
      );
    }
  }

  /** The end of a run: every execution ended as it should, groups restored, locks released. */
  async finish(): Promise<void> {
    this.check();
    await this.quarantine.finish();
    const { world } = this.sim;
    for (const execution of this.sim.executions.values()) {
      if (execution.status === "RUNNING") {
        this.violate("ended", undefined, `${execution.name} still running`);
        continue;
      }
      // A replacement that changed the group (Prepare ran) must complete or roll back; one refused
      // before that (a bad plan, a held lock, AWS refusing to answer) changed nothing.
      const prepared = this.replacements.get(execution.executionArn)?.prepared === true;
      if (prepared && execution.status !== "SUCCEEDED" && execution.error !== "ReplacementRolledBack") {
        this.violate(
          "ended",
          undefined,
          `${execution.name} ended ${execution.status} ${execution.error}: ${execution.cause?.slice(0, 300)}`,
        );
      }
    }
    for (const [groupName, initial] of this.initial) {
      const group = world.groups.get(groupName);
      const touched = [...this.replacements.values()].filter(
        (replacement) => replacement.groupName === groupName && replacement.prepared,
      );
      if (!group || touched.length === 0) continue;
      const last = touched[touched.length - 1] as Replacement;
      const execution = this.sim.executions.get(last.executionId);
      const completed = execution?.status === "SUCCEEDED";
      const expectedVersion = completed
        ? last.plan.target.version
        : last.plan.previous.launchTemplate.version;
      const suspended = [...group.suspendedProcesses].sort();
      // A rollback puts desired capacity back as it was (scaling acts again afterwards); a completed
      // replacement leaves what scaling did, and may leave one instance more for each named instance that
      // something else took out mid-wave (its stand-in and the wave's new instance both stay).
      const external = (this.externalDesired.get(groupName) ?? [])
        .filter((change) => completed || change.at >= (execution?.stopDate ?? 0))
        .reduce((sum, change) => sum + change.delta, 0);
      const desired = initial.desired + external;
      const lostToOthers = completed
        ? last.plan.waves
            .flatMap((wave) => wave.instanceIds)
            .filter((id) => {
              const instance = world.instances.get(id);
              return (
                !!instance &&
                (this.isSuspect(instance) ||
                  (instance.terminatedBy && instance.terminatedBy.actor !== "phoenix"))
              );
            }).length
        : 0;
      const problems = [
        (group.desiredCapacity < desired || group.desiredCapacity > desired + lostToOthers) &&
          `desired capacity ${group.desiredCapacity}, expected ${desired}${lostToOthers ? ` to ${desired + lostToOthers}` : ""}`,
        group.launchTemplate.version !== expectedVersion &&
          `launch template version ${group.launchTemplate.version}, expected ${expectedVersion}`,
        suspended.join(",") !== initial.suspended.join(",") &&
          `suspended processes [${suspended}], expected [${initial.suspended}]`,
        group.maxSize !== Math.max(initial.maxSize, group.desiredCapacity) &&
          `MaxSize ${group.maxSize}, expected ${Math.max(initial.maxSize, group.desiredCapacity)}`,
        group.minSize !== Math.min(initial.minSize, group.desiredCapacity) &&
          `MinSize ${group.minSize}, expected ${Math.min(initial.minSize, group.desiredCapacity)}`,
      ].filter(Boolean);
      if (problems.length > 0) this.violate("restored", groupName, problems.join("; "));
    }
    const locked = await readLockedGroups(
      config().PHOENIX_TABLE,
      [...world.groups.keys()],
      new Date(world.clock.now()),
    );
    for (const groupName of locked)
      this.violate("lock", groupName, "still locked after every execution ended");
  }
}
