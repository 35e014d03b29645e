/** A scheduled callback; cancel it when what it models no longer applies. */
export interface Scheduled {
  cancel(): void;
}

interface Entry {
  at: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

/**
 * The simulated clock: a discrete-event queue. Nothing happens in wall time; `advanceBy` runs every event
 * that falls inside the interval, in time order (ties in scheduling order), with `now` set to each event's
 * time while it runs.
 */
export class SimClock {
  private current: number;
  private seq = 0;
  private heap: Entry[] = [];

  constructor(startMs: number) {
    this.current = startMs;
  }

  /** Simulated time in milliseconds since the epoch. */
  now(): number {
    return this.current;
  }

  /** Runs `run` after `delayMs` of simulated time. */
  schedule(delayMs: number, run: () => void): Scheduled {
    return this.scheduleAt(this.current + Math.max(0, delayMs), run);
  }

  /** Runs `run` at an absolute simulated time (now, if that is in the past). */
  scheduleAt(atMs: number, run: () => void): Scheduled {
    const entry: Entry = { at: Math.max(atMs, this.current), seq: this.seq++, run, cancelled: false };
    this.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Lets `ms` of simulated time pass, running everything scheduled in it. */
  advanceBy(ms: number): void {
    this.advanceTo(this.current + Math.max(0, ms));
  }

  /** Lets simulated time pass until `targetMs`. */
  advanceTo(targetMs: number): void {
    for (;;) {
      const next = this.heap[0];
      if (!next || next.at > targetMs) break;
      this.pop();
      if (next.cancelled) continue;
      this.current = next.at;
      next.run();
    }
    this.current = Math.max(this.current, targetMs);
  }

  /** Number of pending (not cancelled) events, for tests and diagnostics. */
  pending(): number {
    return this.heap.filter((entry) => !entry.cancelled).length;
  }

  private before(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(heap[index] as Entry, heap[parent] as Entry)) break;
      [heap[index], heap[parent]] = [heap[parent] as Entry, heap[index] as Entry];
      index = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (heap.length === 0 || !last) return;
    heap[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && this.before(heap[left] as Entry, heap[smallest] as Entry)) smallest = left;
      if (right < heap.length && this.before(heap[right] as Entry, heap[smallest] as Entry)) smallest = right;
      if (smallest === index) break;
      [heap[index], heap[smallest]] = [heap[smallest] as Entry, heap[index] as Entry];
      index = smallest;
    }
  }
}
