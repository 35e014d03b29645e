import type { SimClock } from "./clock";

interface Sleeper {
  wakeAt: number;
  wake: () => void;
}

/**
 * Lets executions, invocations and timers share one simulated clock. Each registered participant counts
 * its holds: work in progress (a handler running, an AWS call waiting on I/O). Waits and retry intervals
 * are sleeps until a simulated time. The clock jumps only when nobody holds anything, to the earliest
 * wake-up: so concurrent rollouts interleave as they would in real time, and one rollout alone simply
 * skips its waits. The check runs after the event loop's pending microtasks, so a participant between two
 * steps is never mistaken for idle.
 */
export class SimScheduler {
  private nextId = 0;
  private readonly holds = new Map<number, number>();
  private readonly sleepers = new Set<Sleeper>();
  private checkQueued = false;

  constructor(private readonly clock: SimClock) {}

  /** Registers a participant, holding the clock until it releases or sleeps. */
  enter(): number {
    const id = this.nextId++;
    this.holds.set(id, 1);
    return id;
  }

  /** Unregisters a participant that ended. */
  leave(id: number): void {
    this.holds.delete(id);
    this.queueCheck();
  }

  /** Drops the hold a participant was registered with (its set-up is done). */
  release(id: number): void {
    this.change(id, -1);
  }

  /** Holds the clock for a piece of work; call the returned function when it is done. */
  hold(id: number): () => void {
    this.change(id, +1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.change(id, -1);
    };
  }

  /** Lets the clock move while a participant waits on something else (a child execution). */
  async whileWaiting<T>(id: number, work: Promise<T>): Promise<T> {
    this.change(id, -1);
    try {
      return await work;
    } finally {
      this.change(id, +1);
    }
  }

  /** Sleeps until `ms` of simulated time have passed (the participant holds nothing meanwhile). */
  sleep(id: number, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const sleeper: Sleeper = {
        wakeAt: this.clock.now() + ms,
        wake: () => {
          this.change(id, +1);
          resolve();
        },
      };
      this.sleepers.add(sleeper);
      this.change(id, -1);
    });
  }

  private change(id: number, delta: number): void {
    // A participant that already left (a stopped execution's last sleeper) holds nothing, but the clock
    // must still be checked, or it would wait for a change that never comes.
    if (this.holds.has(id)) this.holds.set(id, (this.holds.get(id) ?? 0) + delta);
    this.queueCheck();
  }

  private queueCheck(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    setImmediate(() => {
      this.checkQueued = false;
      this.advanceIfIdle();
    });
  }

  private advanceIfIdle(): void {
    if (this.sleepers.size === 0) return;
    for (const count of this.holds.values()) if (count > 0) return;
    let first: Sleeper | undefined;
    for (const sleeper of this.sleepers) if (!first || sleeper.wakeAt < first.wakeAt) first = sleeper;
    if (!first) return;
    this.sleepers.delete(first);
    this.clock.advanceTo(first.wakeAt);
    first.wake();
  }
}
