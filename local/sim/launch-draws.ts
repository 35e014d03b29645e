// What the simulated account draws for each instance it launches, in launch order, from a random stream of
// its own (seeded from the world's seed, apart from the stream API latency, ids and everything else use).
// The n-th instance launched in a world always gets the n-th draw, whoever asked for it and whenever: so a
// benchmark can read the draws of a run before it happens (`launchDrawsFor`) and compute from them, and the
// scenario's timing model, what no engine could beat, without looking at the run it judges.
import type { SimTiming } from "./model";
import { Random } from "./random";

/** The random parts of one launch, in seconds (the boot as a fraction of the image's boot range). */
export interface LaunchDraw {
  /**
   * Auto Scaling's reaction beyond its fastest: it acts on a change `asgReactSeconds[0]` after it, and each
   * instance of that scaling activity starts launching within the next `asgReactSeconds[1] - [0]` seconds.
   */
  activitySeconds: number;
  /** EC2's launch API time (jittered). */
  launchApiSeconds: number;
  /** EC2's pending -> running time (jittered). */
  pendingToRunningSeconds: number;
  /** Where the boot falls in the image's [min, max) boot seconds, 0-1. */
  bootFraction: number;
}

/** The launch-draw stream of a world with this seed: the same seed gives the same draws in the same order. */
export class LaunchDraws {
  private readonly random: Random;

  constructor(
    seed: number,
    private readonly timing: Pick<
      SimTiming,
      "asgReactSeconds" | "launchApiSeconds" | "pendingToRunningSeconds" | "launchJitter"
    >,
  ) {
    // A stream apart from the world's own (which API latency, ids and retries also draw from).
    this.random = new Random((Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x1a2b3c4d) >>> 0);
  }

  /** The next launch's draw. */
  next(): LaunchDraw {
    const { asgReactSeconds, launchApiSeconds, pendingToRunningSeconds, launchJitter } = this.timing;
    return {
      activitySeconds: this.random.between(0, Math.max(0, asgReactSeconds[1] - asgReactSeconds[0])),
      launchApiSeconds: this.random.jitter(launchApiSeconds, launchJitter),
      pendingToRunningSeconds: this.random.jitter(pendingToRunningSeconds, launchJitter),
      bootFraction: this.random.next(),
    };
  }
}

/** The first `count` launch draws of a world with this seed and timing, before (or without) running it. */
export function launchDrawsFor(
  seed: number,
  timing: ConstructorParameters<typeof LaunchDraws>[1],
  count: number,
): LaunchDraw[] {
  const draws = new LaunchDraws(seed, timing);
  return Array.from({ length: count }, () => draws.next());
}

/** Seconds from running until the application answers, for a draw and the image's boot range. */
export function bootSecondsOf(draw: LaunchDraw, [min, max]: [number, number]): number {
  return min + (max - min) * draw.bootFraction;
}
