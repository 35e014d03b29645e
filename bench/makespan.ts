// Rotation makespan on the simulator against the lower bound of ../shared/DESIGN.md:
//   T >= ceil(N / B) * T_ready + T_drain, B = max(1, S + U),
// where T_ready is what no scheduler can beat: the expected time until the slowest instance of a wave of B
// is healthy, drawn from the simulator's own timing model (Auto Scaling's reaction, launch, boot, health
// checks at their interval). Phoenix's overhead is the rest: its API calls, readiness polling, probes.

import { type ScaleOptions, scaleScenario } from "../local/scale";
import type { SimLogEntry } from "../local/sim/model";
import { DEFAULT_TIMING } from "../local/sim/model";
import { Random } from "../local/sim/random";
import { Simulation } from "../local/simulation";
import type { ExecutionOutcome } from "../local/state-machine";

/** One rollout policy of the table. */
export interface PolicyCase {
  label: string;
  maxSurgePercent: number;
  minHealthyPercent: number;
}

export const POLICIES: PolicyCase[] = [
  { label: "surge 25%", maxSurgePercent: 25, minHealthyPercent: 100 },
  { label: "surge 100%", maxSurgePercent: 100, minHealthyPercent: 100 },
  { label: "min healthy 90%, no surge", maxSurgePercent: 0, minHealthyPercent: 90 },
];

/** The policy Phoenix uses when a group sets none (surge 25%, min healthy 100%, readiness poll 15 s). */
export const DEFAULT_POLICY: PolicyCase = { label: "default", maxSurgePercent: 25, minHealthyPercent: 100 };

/** The simulator's health checks and draining in these runs (DESIGN.md's fast scenario). */
export const TIMING = {
  healthCheckIntervalSeconds: 5,
  healthyThresholdCount: 2,
  deregistrationDelaySeconds: 30,
  bootSeconds: [10, 40] as [number, number],
};

/** Wave size B = max(1, S + U) for desired D. */
export function waveSize(desired: number, policy: PolicyCase): number {
  const surge =
    policy.maxSurgePercent > 0 ? Math.max(1, Math.floor((desired * policy.maxSurgePercent) / 100)) : 0;
  const unavailable = desired - Math.ceil((desired * policy.minHealthyPercent) / 100);
  return Math.max(1, surge + unavailable);
}

/** Seconds until one instance is healthy, drawn from the simulator's timing model. */
function readySample(random: Random, reactSeconds: number): number {
  const { launchApiSeconds, pendingToRunningSeconds, launchJitter } = DEFAULT_TIMING;
  const interval = TIMING.healthCheckIntervalSeconds;
  const boot = random.between(TIMING.bootSeconds[0], TIMING.bootSeconds[1]);
  // Health checks start at registration (running) and tick every interval; it takes `threshold` passing
  // checks, the first at or after the application answers.
  const checks = Math.ceil(boot / interval) + TIMING.healthyThresholdCount - 1;
  return (
    reactSeconds +
    random.jitter(launchApiSeconds, launchJitter) +
    random.jitter(pendingToRunningSeconds, launchJitter) +
    checks * interval
  );
}

/** E[time until the slowest of `size` instances launched together is healthy], by Monte Carlo. */
export function expectedWaveReadySeconds(size: number, trials = 400): number {
  const random = new Random(12345 + size);
  let total = 0;
  for (let trial = 0; trial < trials; trial++) {
    const [min, max] = DEFAULT_TIMING.asgReactSeconds;
    const react = random.between(min, max);
    let slowest = 0;
    for (let n = 0; n < size; n++) slowest = Math.max(slowest, readySample(random, react));
    total += slowest;
  }
  return total / trials;
}

/** DESIGN.md's lower bound for rotating N instances with wave size B. */
export function lowerBoundSeconds(instances: number, size: number): number {
  const launchRateFloor = Math.max(0, (instances - 1000) / 2);
  const waves = Math.ceil(instances / size);
  return Math.max(
    waves * expectedWaveReadySeconds(size) + TIMING.deregistrationDelaySeconds,
    launchRateFloor,
  );
}

/**
 * The waves' own readiness in one run, from the simulated account's timeline: for each capacity raise,
 * the time until the last instance launched for it was InService and healthy in its target groups. This is
 * T_ready as AWS delivered it in that run, which no scheduler can beat; Phoenix's polling and calls are not
 * in it.
 */
export function realizedWaveReadySeconds(log: readonly SimLogEntry[], groupName: string): number[] {
  const raises = log.filter(
    (entry) => entry.kind === "desired-changed" && entry.groupName === groupName && isRaise(entry.message),
  );
  const readyAt = new Map<string, number>();
  for (const entry of log)
    if ((entry.kind === "target-healthy" || entry.kind === "instance-in-service") && entry.instanceId)
      readyAt.set(entry.instanceId, Math.max(readyAt.get(entry.instanceId) ?? 0, entry.at));
  return raises.map((raise, index) => {
    const until = raises[index + 1]?.at ?? Number.POSITIVE_INFINITY;
    const launched = log.filter(
      (entry) =>
        entry.kind === "instance-launched" &&
        entry.groupName === groupName &&
        entry.at >= raise.at &&
        entry.at < until,
    );
    const last = Math.max(
      raise.at,
      ...launched.map((entry) => readyAt.get(entry.instanceId ?? "") ?? raise.at),
    );
    return (last - raise.at) / 1000;
  });
}

function isRaise(message: string): boolean {
  const match = /(\d+) -> (\d+)/.exec(message);
  return !!match && Number(match[2]) > Number(match[1]);
}

/** A measured rotation: the execution's figures and the simulated account's calls. */
export interface Rotation {
  instances: number;
  policy: PolicyCase;
  pollSeconds: number;
  outcome: ExecutionOutcome;
  makespanSeconds: number;
  waves: number;
  /** Each wave's T_ready as the simulated account delivered it. */
  waveReadySeconds: number[];
  apiCalls: Map<string, number>;
}

/** Rotates a group of `instances` onto a new version at a policy, on a fresh simulated account. */
export async function rotate(
  instances: number,
  policy: PolicyCase,
  pollSeconds: number,
  extra: Partial<ScaleOptions> = {},
): Promise<Rotation> {
  const sim = await Simulation.fromScenario(
    scaleScenario({
      instances,
      healthCheckIntervalSeconds: TIMING.healthCheckIntervalSeconds,
      healthyThresholdCount: TIMING.healthyThresholdCount,
      deregistrationDelaySeconds: TIMING.deregistrationDelaySeconds,
      bootSeconds: TIMING.bootSeconds,
      ...extra,
    }),
  );
  try {
    const startedAt = sim.world.clock.now();
    const outcome = await sim.run("replace-group", {
      groupName: "big0",
      reason: "new-image",
      targetVersion: "2",
      // The default policy as shipped, or the row's settings.
      ...(policy === DEFAULT_POLICY
        ? {}
        : {
            policy: {
              maxSurgePercent: policy.maxSurgePercent,
              minHealthyPercent: policy.minHealthyPercent,
              readiness: { pollSeconds, timeoutSeconds: 900 },
            },
          }),
    });
    if (outcome.status !== "SUCCEEDED")
      throw new Error(`${instances} at ${policy.label}: ${outcome.error} ${outcome.cause}`);
    return {
      instances,
      policy,
      pollSeconds,
      outcome,
      makespanSeconds: (sim.world.clock.now() - startedAt) / 1000,
      waves: (outcome.output as { waves: number }).waves,
      waveReadySeconds: realizedWaveReadySeconds(sim.world.log, "big0"),
      apiCalls: new Map(sim.world.calls),
    };
  } finally {
    await sim.close();
  }
}
