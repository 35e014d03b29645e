// What an invariant is to the monitor: a named promise with hooks on the simulated world. Each file in this
// folder exports a family of them; index.ts lists the families (add yours there).
import type { SimLogEntry } from "../../sim/model";
import type { SimWorld } from "../../sim/world";
import type { Simulation } from "../../simulation";
import type { ExecutionEvent } from "../../state-machine";
import type { ExecutionFacts, WorldFacts } from "./facts";

/** One broken promise, with when and what. */
export interface Violation {
  invariant: string;
  at: number;
  groupName?: string;
  detail: string;
}

/** What every hook gets: the simulation, what the monitor learned of it, and a way to report. */
export interface MonitorContext {
  sim: Simulation;
  world: SimWorld;
  facts: WorldFacts;
  /** Reports a broken promise now (or at `at`). */
  violate(invariant: string, groupName: string | undefined, detail: string, at?: number): void;
}

/**
 * One promise. Every hook is optional; facts are up to date when a hook runs. A hook must judge from
 * `ctx.facts` and `ctx.world` (the account, the executions and their requests), never from Phoenix's
 * plans, task results or state.
 */
export interface Invariant {
  /** Short key, printed in tables and used by the sabotage catalogue. */
  name: string;
  /** The promise in one line. */
  promise: string;
  /** After anything in the account changed. */
  onChange?(ctx: MonitorContext): void;
  /** For every entry of the account's log (who did what, when). */
  onLog?(ctx: MonitorContext, entry: SimLogEntry): void;
  onExecutionStarted?(ctx: MonitorContext, execution: ExecutionFacts): void;
  onExecutionEnded?(ctx: MonitorContext, execution: ExecutionFacts): void;
  /** For every event of an execution's history (a state entered, exited, retried...), as Step Functions records it. */
  onExecutionEvent?(ctx: MonitorContext, event: ExecutionEvent): void;
  /** Once, when the run is over (everything ended). */
  finish?(ctx: MonitorContext): void | Promise<void>;
}

/** A family of invariants that share what they remember (a new instance per run). */
export type InvariantFamily = () => Invariant[];
