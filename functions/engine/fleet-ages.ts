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
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
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
  const ages = instances.map((instance) => instance.ageSeconds);
  return {
    instances: instances.length,
    maxAgeSeconds: Math.round(Math.max(0, ...ages)),
    p50AgeSeconds: Math.round(percentile(ages, 50)),
    p95AgeSeconds: Math.round(percentile(ages, 95)),
    overMax: instances.filter((instance) => instance.overMax).length,
    drifted: instances.filter((instance) => instance.drifted).length,
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
export function bucketEdges(ages: number[], maxBuckets = 10): number[] {
  const oldest = Math.max(0, ...ages);
  const youngest = Math.min(...ages, oldest);
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
