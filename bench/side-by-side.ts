// Phoenix, Instance Refresh tuned, Instance Refresh at AWS's defaults and the honest floor, side by side on
// the same fleets and seeds: each makespan divided by the floor of its own fleet and seed.

import type { PhoenixRotation } from "./makespan";
import {
  capacityOf,
  fleet,
  floorOf,
  type PolicyCase,
  rotateInstanceRefresh,
  rotatePhoenix,
  tunedRefresh,
} from "./makespan";

/** Mean and worst of a list of ratios. */
export interface RatioStats {
  mean: number;
  worst: number;
  perSeed: number[];
}

/** One engine on one row: its makespans (seconds, per seed) and their ratios to the floor. */
export interface EngineFigures {
  makespanSeconds: number[];
  ratio: RatioStats;
}

/** One row of the side-by-side table. */
export interface SideBySideRow {
  instances: number;
  policy: string;
  /** Slots (B = S + D - F) under the row's policy, and Instance Refresh's batches when tuned. */
  slots: number;
  floorSeconds: number[];
  phoenix: EngineFigures;
  refreshTuned: EngineFigures & { warmupSeconds: number };
  refreshWarmupZero: EngineFigures;
  refreshDefaults: EngineFigures;
  /** Phoenix's makespan over tuned Instance Refresh's, per seed (below 1: Phoenix faster). */
  phoenixOverTunedRefresh: RatioStats;
  /** Seed 1's Phoenix rotation, for the cost figures. */
  firstRotation: PhoenixRotation;
}

/** Mean and worst (largest) of values. */
export function stats(values: number[]): RatioStats {
  const total = values.reduce((sum, value) => sum + value, 0);
  return { mean: total / values.length, worst: values.reduce((a, b) => Math.max(a, b), 0), perSeed: values };
}

function figures(makespans: number[], floors: number[]): EngineFigures {
  return {
    makespanSeconds: makespans,
    ratio: stats(makespans.map((value, i) => value / (floors[i] as number))),
  };
}

/**
 * Runs every engine on `instances` at `policy` for each seed. Throws if any engine beats the floor: the
 * floor would then not be a floor, and no ratio printed against it could be trusted.
 */
export async function sideBySideRow(
  instances: number,
  policy: PolicyCase,
  seeds: number[],
  onProgress: (line: string) => void = () => {},
): Promise<SideBySideRow> {
  const floors: number[] = [];
  const phoenix: number[] = [];
  const tuned: number[] = [];
  const warmupZero: number[] = [];
  const defaults: number[] = [];
  let firstRotation: PhoenixRotation | undefined;
  let slots = 0;
  let warmupSeconds = 0;
  for (const seed of seeds) {
    const scenario = fleet(instances, seed);
    const floor = floorOf(scenario, capacityOf(instances, policy));
    slots = floor.slots;
    const rotation = await rotatePhoenix(scenario, policy);
    firstRotation ??= rotation;
    const tunedSettings = tunedRefresh(scenario, policy);
    warmupSeconds = tunedSettings.instanceWarmupSeconds ?? 0;
    const runs = {
      phoenix: rotation.makespanSeconds,
      tuned: (await rotateInstanceRefresh(scenario, tunedSettings)).makespanSeconds,
      warmupZero: (await rotateInstanceRefresh(scenario, tunedRefresh(scenario, policy, 0))).makespanSeconds,
      defaults: (await rotateInstanceRefresh(scenario, {})).makespanSeconds,
    };
    for (const [engine, seconds] of Object.entries(runs)) {
      // The defaults run under looser constraints (10% may be down), so only the row's engines must respect
      // the row's floor.
      if (engine !== "defaults" && seconds < floor.seconds - 0.001)
        throw new Error(
          `${engine} rotated ${instances} at ${policy.label}, seed ${seed}, in ${seconds.toFixed(1)} s, under the floor ${floor.seconds.toFixed(1)} s: the floor is wrong`,
        );
    }
    floors.push(floor.seconds);
    phoenix.push(runs.phoenix);
    tuned.push(runs.tuned);
    warmupZero.push(runs.warmupZero);
    defaults.push(runs.defaults);
    onProgress(
      `  ${instances} ${policy.label} seed ${seed}: floor ${floor.seconds.toFixed(1)} s, Phoenix ${runs.phoenix.toFixed(1)}, Instance Refresh ${runs.tuned.toFixed(1)} tuned / ${runs.warmupZero.toFixed(1)} warmup 0 / ${runs.defaults.toFixed(1)} defaults`,
    );
  }
  return {
    instances,
    policy: policy.label,
    slots,
    floorSeconds: floors,
    phoenix: figures(phoenix, floors),
    refreshTuned: { ...figures(tuned, floors), warmupSeconds },
    refreshWarmupZero: figures(warmupZero, floors),
    refreshDefaults: figures(defaults, floors),
    phoenixOverTunedRefresh: stats(phoenix.map((value, i) => value / (tuned[i] as number))),
    firstRotation: firstRotation as PhoenixRotation,
  };
}

/** The floor has teeth: a Phoenix holding every launch `holdSeconds` longer, against the same floors. */
export async function slowedPhoenix(
  instances: number,
  policy: PolicyCase,
  seeds: number[],
  holdSeconds: number,
): Promise<{
  instances: number;
  policy: string;
  holdSeconds: number;
  phoenix: EngineFigures;
  slowed: EngineFigures;
}> {
  const floors: number[] = [];
  const normal: number[] = [];
  const slowed: number[] = [];
  for (const seed of seeds) {
    const scenario = fleet(instances, seed);
    floors.push(floorOf(scenario, capacityOf(instances, policy)).seconds);
    normal.push((await rotatePhoenix(scenario, policy)).makespanSeconds);
    slowed.push((await rotatePhoenix(scenario, policy, { holdLaunchSeconds: holdSeconds })).makespanSeconds);
  }
  return {
    instances,
    policy: policy.label,
    holdSeconds,
    phoenix: figures(normal, floors),
    slowed: figures(slowed, floors),
  };
}
