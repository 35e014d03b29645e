// Which of Phoenix's functions is running: the local runner (and the simulated Lambda) enter one for every
// Task and every invocation, and the simulated account reads it while it answers a call. So the account
// can record, for every change Phoenix makes, which execution made it, without asking Phoenix.
import { AsyncLocalStorage } from "node:async_hooks";
import type { SimCaller } from "./model";

const current = new AsyncLocalStorage<SimCaller>();

/** Runs `work` as `caller` (everything it awaits, and every AWS call it makes, belongs to it). */
export function actingAs<T>(caller: SimCaller, work: () => T): T {
  return current.run(caller, work);
}

/** The Phoenix function whose work is running now, if any. */
export function currentCaller(): SimCaller | undefined {
  return current.getStore();
}
