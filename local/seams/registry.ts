// The seams' switchboard: for the length of a run, the local runner can swap a function of functions/ (an
// engine decision or an AWS adapter, through the wrapper modules local/seams/hooks.mjs makes), a Lambda
// handler (the simulation asks here before it runs one) or a state of a state machine (the runner asks
// here when it loads a definition). Nothing in functions/ knows: with nothing swapped, everything runs as
// written. The sabotage catalogue (local/chaos/sabotage) is its user.

// biome-ignore lint/suspicious/noExplicitAny: seams wrap functions of any signature
type AnyFunction = (...args: any[]) => any;

/** A replacement for a function: it gets the real one and the arguments, and returns what the call returns. */
export type Swap = (real: AnyFunction, ...args: unknown[]) => unknown;

/** A replacement for a Lambda handler: it gets the real call and the event. */
export type HandlerSwap = (real: () => Promise<unknown>, event: unknown) => Promise<unknown>;

/** A change to one state of a state machine definition (the state as JSON, returned changed). */
export type StatePatch = (state: Record<string, unknown>) => Record<string, unknown>;

const swaps = new Map<string, Swap>();
const wired = new Set<string>();
const handlerSwaps = new Map<string, HandlerSwap>();
const statePatches = new Map<string, StatePatch>();

const key = (moduleUrl: string, name: string) => `${moduleUrl}#${name}`;

/** Called by the wrapper modules: a function that calls the swap when one is set, else the real one. */
export function seamed(moduleUrl: string, name: string, real: AnyFunction): AnyFunction {
  wired.add(key(moduleUrl, name));
  return (...args: unknown[]) => {
    const swap = swaps.get(key(moduleUrl, name));
    return swap ? swap(real, ...args) : real(...args);
  };
}

/** Whether a wrapper for this function was loaded (a swap of an unwired function would change nothing). */
export function isWired(moduleUrl: string, name: string): boolean {
  return wired.has(key(moduleUrl, name));
}

/** Swaps a function of a module until the returned function is called. */
export function swapFunction(moduleUrl: string, name: string, swap: Swap): () => void {
  const id = key(moduleUrl, name);
  swaps.set(id, swap);
  return () => {
    if (swaps.get(id) === swap) swaps.delete(id);
  };
}

/** Swaps a Lambda handler (by serverless.yml function key) until the returned function is called. */
export function swapHandler(functionKey: string, swap: HandlerSwap): () => void {
  handlerSwaps.set(functionKey, swap);
  return () => {
    if (handlerSwaps.get(functionKey) === swap) handlerSwaps.delete(functionKey);
  };
}

/** The swap of a handler, if one is set (the simulation asks before every Task and invocation). */
export function handlerSwap(functionKey: string): HandlerSwap | undefined {
  return handlerSwaps.get(functionKey);
}

/** Patches one state of statemachines/<file>.asl.json for the definitions loaded until the returned function is called. */
export function patchState(file: string, stateName: string, patch: StatePatch): () => void {
  const id = `${file}#${stateName}`;
  statePatches.set(id, patch);
  return () => {
    if (statePatches.get(id) === patch) statePatches.delete(id);
  };
}

/** The patch of a state, if one is set (the runner asks when it loads a definition). */
export function statePatch(file: string, stateName: string): StatePatch | undefined {
  return statePatches.get(`${file}#${stateName}`);
}
