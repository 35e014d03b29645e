// The honest floor: the fastest any engine could rotate a group under the same constraints, computed from
// the scenario's timing model and the simulator's own launch draws (local/sim/launch-draws.ts), never from
// the run it judges.
//
// The constraints, as the simulated AWS enforces them on every engine:
// - capacity: at most D + S members (MaxSize), at least F of them serving (the floor). A member leaves by
//   being taken out of service (it then drains for the deregistration delay, serving nobody); so at any
//   moment at most B = S + (D - F) new instances can be on their way (launched, not yet healthy).
// - Auto Scaling acts on a raise of capacity `asgReactSeconds[0]` after it, never sooner; each instance of
//   that launch then takes its own draw: the rest of the reaction, EC2's launch API and pending -> running,
//   then health checks every interval from registration until HealthyThresholdCount pass in a row after
//   its boot ends. So instance i is ready L_i after Auto Scaling acts, L_i known from its draw alone.
// - the n-th launch gets the n-th draw, whatever the engine does; launches are in time order.
// - EC2's instance launch bucket: the n-th launch cannot happen before (n - burst) / refill seconds.
//
// The best any engine can do is refill each slot the moment its instance is ready (the slot-refilling
// schedule): launch i is acted on at max(start, ready time of launch i - B) + reaction, which is optimal
// because an earlier launch never delays a later one. The k-th old instance can leave once k - (D - F) new
// ones are ready, so the last one leaves when the (N - (D - F))-th new one is ready and has drained
// `deregistrationDelaySeconds` later; the rotation ends when the last new instance is ready and the last
// old one has drained (draining counts only where it is on the critical path).
import { bootSecondsOf, type LaunchDraw } from "../local/sim/launch-draws";

/** The constraints and timing model one rotation runs under. */
export interface FloorModel {
  /** Desired capacity D. */
  desired: number;
  /** Instances to replace N (at most D). */
  replace: number;
  /** Instances that must serve at every moment, F. */
  floor: number;
  /** Instances allowed above desired capacity, S. */
  surge: number;
  /** Auto Scaling's fastest reaction to a raise, seconds (`asgReactSeconds[0]`). */
  reactSeconds: number;
  healthCheckIntervalSeconds: number;
  healthyThresholdCount: number;
  deregistrationDelaySeconds: number;
  /** The new image's boot range, seconds. */
  bootSeconds: [number, number];
  /** EC2's instance launch bucket (burst, refill per second), full at the start. */
  launchBucket: { burst: number; refillPerSecond: number };
}

/** The floor of one rotation and the schedule that reaches it (seconds from the start). */
export interface Floor {
  seconds: number;
  /** Slots: instances that can be on their way at once, B = S + (D - F). */
  slots: number;
  /** When the last new instance is ready. */
  lastReadySeconds: number;
  /** When the last old instance has drained. */
  lastDrainedSeconds: number;
  /** Per launch, in launch order: when Auto Scaling acts on it and when it is ready. */
  actedAt: number[];
  readyAt: number[];
}

/** Seconds from Auto Scaling acting on a launch until that instance is InService and healthy. */
export function launchToReadySeconds(draw: LaunchDraw, model: FloorModel): number {
  const interval = model.healthCheckIntervalSeconds;
  const boot = bootSecondsOf(draw, model.bootSeconds);
  // Checks at registration (running) + k x interval, k >= 1; the first that passes is the first at or after
  // the boot ends; healthy after HealthyThresholdCount in a row.
  const firstPass = Math.max(1, Math.ceil(boot / interval));
  const checks = firstPass + model.healthyThresholdCount - 1;
  return draw.activitySeconds + draw.launchApiSeconds + draw.pendingToRunningSeconds + checks * interval;
}

/** A binary min-heap of numbers (ready times waiting to free a slot). */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const items = this.items;
    items.push(value);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if ((items[parent] as number) <= value) break;
      items[index] = items[parent] as number;
      index = parent;
    }
    items[index] = value;
  }

  pop(): number {
    const items = this.items;
    const top = items[0] as number;
    const last = items.pop() as number;
    if (items.length > 0) {
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child =
          right < items.length && (items[right] as number) < (items[left] as number) ? right : left;
        if ((items[child] as number) >= last) break;
        items[index] = items[child] as number;
        index = child;
      }
      items[index] = last;
    }
    return top;
  }
}

/** The slot-refilling floor for `model`, from the run's launch draws in launch order. */
export function slotRefillingFloor(model: FloorModel, draws: readonly LaunchDraw[]): Floor {
  const { desired, replace, floor, surge } = model;
  const unavailable = Math.max(0, desired - floor);
  const slots = surge + unavailable;
  if (slots < 1)
    throw new Error(`no slot: floor ${floor} of ${desired} with no surge leaves nothing to replace`);
  if (draws.length < replace)
    throw new Error(`${replace} launches need ${replace} draws, got ${draws.length}`);
  const { burst, refillPerSecond } = model.launchBucket;
  const actedAt: number[] = [];
  const readyAt: number[] = [];
  // Ready times not yet used to free a slot; popping them in order gives them sorted (each later one is
  // ready after the slot it took was freed).
  const waiting = new MinHeap();
  const readySorted: number[] = [];
  for (let launch = 0; launch < replace; launch++) {
    let freedAt = 0;
    if (launch >= slots) {
      freedAt = waiting.pop();
      readySorted.push(freedAt);
    }
    const bucketAt = launch + 1 > burst ? (launch + 1 - burst) / refillPerSecond : 0;
    const acted = Math.max(freedAt + model.reactSeconds, bucketAt);
    const ready = acted + launchToReadySeconds(draws[launch] as LaunchDraw, model);
    actedAt.push(acted);
    readyAt.push(ready);
    waiting.push(ready);
  }
  while (waiting.size > 0) readySorted.push(waiting.pop());
  const lastReadySeconds = readySorted[readySorted.length - 1] ?? 0;
  // The last old instance leaves once replace - unavailable new ones are ready (at the start if that is 0).
  const lastLeaves = replace - unavailable > 0 ? (readySorted[replace - unavailable - 1] as number) : 0;
  const lastDrainedSeconds = replace > 0 ? lastLeaves + model.deregistrationDelaySeconds : 0;
  return {
    seconds: Math.max(lastReadySeconds, lastDrainedSeconds),
    slots,
    lastReadySeconds,
    lastDrainedSeconds,
    actedAt,
    readyAt,
  };
}
