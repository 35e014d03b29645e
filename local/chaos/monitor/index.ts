// The independent monitor: every invariant family, watching one simulation. To add an invariant, write an
// InvariantFamily (types.ts) in its own file of this folder and list it in FAMILIES below; the campaign's
// table, the sabotage catalogue and `npm test` pick it up from here.
import type { Simulation } from "../../simulation";
import { capacity } from "./capacity";
import { executions } from "./executions";
import { WorldFacts } from "./facts";
import { images } from "./images";
import { quarantine } from "./quarantine";
import { pendingRetired, removals } from "./removals";
import { sweeps } from "./sweeps";
import type { Invariant, InvariantFamily, MonitorContext, Violation } from "./types";

export type { Invariant, InvariantFamily, MonitorContext, Violation } from "./types";

/** Every family of invariants the monitor checks. */
export const FAMILIES: InvariantFamily[] = [capacity, removals, executions, quarantine, sweeps, images];

/** Every invariant by name, with its promise (for tables). */
export const INVARIANTS: Record<string, string> = Object.fromEntries(
  FAMILIES.flatMap((family) => family()).map((invariant) => [invariant.name, invariant.promise]),
);

/**
 * Watches one simulation for broken promises. Create it before anything starts; call `finish` once every
 * execution has ended. It reads the world only: the account, Step Functions' executions and their inputs,
 * the bus, the lock items in the table.
 */
export class InvariantMonitor {
  readonly violations: Violation[] = [];
  readonly facts: WorldFacts;
  private readonly invariants: Invariant[];
  private readonly context: MonitorContext;
  private finished = false;

  constructor(sim: Simulation, families: InvariantFamily[] = FAMILIES) {
    this.facts = new WorldFacts(sim);
    this.invariants = families.flatMap((family) => family());
    this.context = {
      sim,
      world: sim.world,
      facts: this.facts,
      violate: (invariant, groupName, detail, at) =>
        this.violations.push({ invariant, groupName, detail, at: at ?? sim.world.clock.now() }),
    };
    const { world } = sim;
    world.onLog((entry) => {
      this.facts.logged(entry);
      for (const invariant of this.invariants) invariant.onLog?.(this.context, entry);
    });
    world.onChange(() => this.changed());
    sim.onExecutionStarted((execution) => {
      const facts = this.facts.started(execution);
      for (const invariant of this.invariants) invariant.onExecutionStarted?.(this.context, facts);
    });
    sim.onExecutionEvent((event) => {
      if (this.finished) return;
      for (const invariant of this.invariants) invariant.onExecutionEvent?.(this.context, event);
    });
    sim.onExecutionEnded((execution) => {
      const facts = this.facts.ended(execution);
      if (!facts) return;
      for (const invariant of this.invariants) invariant.onExecutionEnded?.(this.context, facts);
      this.changed();
    });
  }

  private changed(): void {
    if (this.finished) return;
    for (const invariant of this.invariants) invariant.onChange?.(this.context);
  }

  /** Instances taken out of service and still running, with the time by which they must be gone. */
  pendingRetired(): { instanceId: string; deadline: number }[] {
    return pendingRetired(this.context);
  }

  /** The end of a run: the invariants judged on the whole of it. */
  async finish(): Promise<void> {
    this.changed();
    for (const invariant of this.invariants) await invariant.finish?.(this.context);
    this.finished = true;
    this.facts.close();
    this.violations.sort((a, b) => a.at - b.at);
  }
}
