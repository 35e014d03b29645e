// "A histogram of the uptime of your servers right now": instance ages across managed groups, their
// percentiles, and buckets that fit the data. Age is the time since the instance launched.
import { formatAge } from "./durations";
import { ageSeconds, groupSweepSettings, type SweepGroupInput, type SweepSettings } from "./sweep";
import { QUARANTINE_TAG } from "./types";

/** One instance with its age and how it compares to its group's maximum. */
export interface AgedInstance {
  groupName: string;
  instanceId: string;
  ageSeconds: number;
  maxAgeSeconds: number;
  overMax: boolean;
  drifted: boolean;
  quarantined: boolean;
}

/** Ages of every in-service instance of the given groups. */
export function collectAges(inputs: SweepGroupInput[], settings: SweepSettings, now: Date): AgedInstance[] {
  return inputs.flatMap((input) => {
    const resolved = groupSweepSettings(input.group, settings);
    const maxAgeSeconds = "invalid" in resolved ? settings.defaultMaxAgeSeconds : resolved.maxAgeSeconds;
    return input.group.instances
      .filter(
        (instance) => instance.lifecycleState === "InService" || instance.tags[QUARANTINE_TAG] !== undefined,
      )
      .map((instance) => {
        const age = ageSeconds(instance, now);
        return {
          groupName: input.group.groupName,
          instanceId: instance.instanceId,
          ageSeconds: age,
          maxAgeSeconds,
          overMax: age > maxAgeSeconds,
          drifted: !!input.currentImageId && !!instance.imageId && instance.imageId !== input.currentImageId,
          quarantined: instance.tags[QUARANTINE_TAG] !== undefined,
        };
      });
  });
}

/** The p-th percentile (0-100) of values by nearest rank; 0 for no values. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileOfSorted(Float64Array.from(values).sort(), p);
}

/** The p-th percentile (0-100) of values already sorted ascending, by nearest rank; 0 for none. */
function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** Largest and smallest of values, in one pass (spreading a fleet's ages into Math.max overflows the stack). */
function extremes(values: ArrayLike<number>): { max: number; min: number } {
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (let index = 0; index < values.length; index++) {
    const value = values[index] as number;
    if (value > max) max = value;
    if (value < min) min = value;
  }
  return { max, min };
}

/** Fleet figures the sweep publishes as metrics. */
export interface AgeStats {
  instances: number;
  maxAgeSeconds: number;
  p50AgeSeconds: number;
  p95AgeSeconds: number;
  overMax: number;
  drifted: number;
}

/** Count, max, p50 and p95 of ages, and how many are over their maximum or drifted. */
export function ageStats(instances: AgedInstance[]): AgeStats {
  const ages = new Float64Array(instances.length);
  let overMax = 0;
  let drifted = 0;
  for (const [index, instance] of instances.entries()) {
    ages[index] = instance.ageSeconds;
    if (instance.overMax) overMax++;
    if (instance.drifted) drifted++;
  }
  ages.sort();
  return {
    instances: instances.length,
    maxAgeSeconds: Math.round(Math.max(0, ages[ages.length - 1] ?? 0)),
    p50AgeSeconds: Math.round(percentileOfSorted(ages, 50)),
    p95AgeSeconds: Math.round(percentileOfSorted(ages, 95)),
    overMax,
    drifted,
  };
}

/**
 * The same figures as `ageStats(collectAges(...))`, without an object per instance: what the sweep publishes
 * as metrics, for a fleet of hundreds of thousands of instances in the sweep function's memory.
 */
export function fleetAgeStats(inputs: SweepGroupInput[], settings: SweepSettings, now: Date): AgeStats {
  let count = 0;
  for (const input of inputs) count += input.group.instances.length;
  const ages = new Float64Array(count);
  let used = 0;
  let overMax = 0;
  let drifted = 0;
  for (const input of inputs) {
    const resolved = groupSweepSettings(input.group, settings);
    const maxAgeSeconds = "invalid" in resolved ? settings.defaultMaxAgeSeconds : resolved.maxAgeSeconds;
    for (const instance of input.group.instances) {
      if (instance.lifecycleState !== "InService" && instance.tags[QUARANTINE_TAG] === undefined) continue;
      const age = ageSeconds(instance, now);
      ages[used++] = age;
      if (age > maxAgeSeconds) overMax++;
      if (input.currentImageId && instance.imageId && instance.imageId !== input.currentImageId) drifted++;
    }
  }
  const sorted = ages.subarray(0, used).sort();
  return {
    instances: used,
    maxAgeSeconds: Math.round(Math.max(0, sorted[used - 1] ?? 0)),
    p50AgeSeconds: Math.round(percentileOfSorted(sorted, 50)),
    p95AgeSeconds: Math.round(percentileOfSorted(sorted, 95)),
    overMax,
    drifted,
  };
}

/** One bar of the histogram. */
export interface AgeBucket {
  label: string;
  fromSeconds: number;
  /** Exclusive upper bound; undefined for the last, open bucket. */
  toSeconds?: number;
  count: number;
  byGroup: Record<string, number>;
  overMax: number;
}

const H = 3600;
const D = 86_400;
// Boundaries people read at a glance; the histogram uses the ones that fit the data.
const NICE_EDGES = [
  300,
  900,
  1800,
  H,
  2 * H,
  3 * H,
  6 * H,
  12 * H,
  D,
  2 * D,
  3 * D,
  5 * D,
  7 * D,
  10 * D,
  14 * D,
  21 * D,
  30 * D,
  45 * D,
  60 * D,
  90 * D,
  180 * D,
  365 * D,
  730 * D,
];

/** Bucket boundaries that fit the ages: nice edges up to the oldest instance, at most `maxBuckets` buckets. */
export function bucketEdges(ages: ArrayLike<number>, maxBuckets = 10): number[] {
  const { max, min } = extremes(ages);
  const oldest = Math.max(0, max);
  const youngest = Math.min(min, oldest);
  let edges = NICE_EDGES.filter((edge) => edge <= oldest);
  // Drop edges below the youngest instance except the last one, so the first bucket is not empty space.
  const firstUseful = edges.findIndex((edge) => edge > youngest);
  if (firstUseful > 1) edges = edges.slice(firstUseful - 1);
  while (edges.length + 1 > maxBuckets)
    edges = edges.filter((_, index) => index % 2 === 1 || index === edges.length - 1);
  return [0, ...edges];
}

/** The age histogram: buckets that fit the data, counts per group, instances over their maximum. */
export function ageHistogram(instances: AgedInstance[], maxBuckets = 10): AgeBucket[] {
  const edges = bucketEdges(
    instances.map((instance) => instance.ageSeconds),
    maxBuckets,
  );
  return edges.map((from, index) => {
    const to = edges[index + 1];
    const inside = instances.filter(
      (instance) => instance.ageSeconds >= from && (to === undefined || instance.ageSeconds < to),
    );
    const byGroup: Record<string, number> = {};
    for (const instance of inside) byGroup[instance.groupName] = (byGroup[instance.groupName] ?? 0) + 1;
    return {
      label: to === undefined ? `>= ${formatAge(from)}` : `${formatAge(from)} - ${formatAge(to)}`,
      fromSeconds: from,
      toSeconds: to,
      count: inside.length,
      byGroup,
      overMax: inside.filter((instance) => instance.overMax).length,
    };
  });
}
