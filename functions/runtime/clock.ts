// Every handler asks this module for the time. Lambda uses the wall clock; the simulator hands in its
// simulated clock so a 40-minute rollout runs in seconds.

let readClock: () => number = Date.now;

/** The current time (simulated when a simulator is attached). */
export function now(): Date {
  return new Date(readClock());
}

/** Replaces the clock (milliseconds since the epoch); call with no argument to restore the wall clock. */
export function useClock(read?: () => number): void {
  readClock = read ?? Date.now;
}
