// What a sabotage is: a deliberate bug, applied from outside functions/ through one of the local runner's
// seams, that one named invariant of the monitor must catch. Only types here (the catalogue is read before
// functions/ may be imported: see local/chaos.ts).
import type { HandlerSwap, StatePatch, Swap } from "../../seams/registry";
import type { Simulation } from "../../simulation";
import type { RunSetup } from "../campaign";
import type { ChaosRun } from "../generate";

/** Where a sabotage acts: one function, handler or state, named in one place so it is easy to re-point. */
export type Seam =
  /** An exported function of a module of functions/ (an engine decision or an AWS adapter). */
  | { module: string; export: string; swap: (sim: Simulation) => Swap }
  /** A Lambda handler, by serverless.yml function key. */
  | { handler: string; swap: (sim: Simulation) => HandlerSwap }
  /** A state of a state machine file (statemachines/<stateMachine>.asl.json). */
  | { stateMachine: string; state: string; patch: StatePatch };

/** One deliberate bug of the catalogue. */
export interface Sabotage {
  /** Short name, printed in the table. */
  name: string;
  /** The bug, in a sentence. */
  bug: string;
  /** The invariant that must catch it. */
  caughtBy: string;
  seams: Seam[];
  /**
   * The runs it needs: given a drawn run, the run to use (the same, or adjusted: a fault added, a delay
   * made longer), or undefined to draw the next one.
   */
  shape: (run: ChaosRun) => ChaosRun | undefined;
  /** Steering of the experiment that the run shape needs (applied to the unsabotaged baseline too). */
  setup?: RunSetup;
}
