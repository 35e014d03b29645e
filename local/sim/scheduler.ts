import type { SimClock } from "./clock";

/**
 * Lets several executions share one simulated clock. An execution is busy (running handlers, whose AWS
 * calls advance the clock by their latency) or asleep until a time (a Wait state or a retry interval).
 * Only when every execution is asleep does the clock jump, to the earliest wake-up; so two concurrent
 * rollouts interleave as they would in real time, and one rollout alone simply skips its waits.
 */
export class SimScheduler {
  private nextId = 0;
  private readonly active = new Set<number>();
  private readonly sleeping = new Map<number, { wakeAt: number; wake: () => void }>();

  constructor(private readonly clock: SimClock) {}

  /** Registers a new, busy execution. */
  enter(): number {
    const id = this.nextId++;
    this.active.add(id);
    return id;
  }

  /** Unregisters an execution that ended. */
  leave(id: number): void {
    this.active.delete(id);
    this.sleeping.delete(id);
    this.advanceIfAllAsleep();
  }

  /** Takes an execution out of the count while it waits on something else (a child execution). */
  suspend(id: number): void {
    this.active.delete(id);
    this.advanceIfAllAsleep();
  }

  /** Counts a suspended execution again. */
  resume(id: number): void {
    this.active.add(id);
  }

  /** Puts an execution to sleep for `ms` of simulated time. */
  sleep(id: number, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((wake) => {
      this.sleeping.set(id, { wakeAt: this.clock.now() + ms, wake });
      this.advanceIfAllAsleep();
    });
  }

  private advanceIfAllAsleep(): void {
    if (this.sleeping.size === 0 || this.sleeping.size < this.active.size) return;
    let first: [number, { wakeAt: number; wake: () => void }] | undefined;
    for (const entry of this.sleeping) if (!first || entry[1].wakeAt < first[1].wakeAt) first = entry;
    if (!first) return;
    this.sleeping.delete(first[0]);
    this.clock.advanceTo(first[1].wakeAt);
    first[1].wake();
  }
}
