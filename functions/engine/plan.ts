import {
  GroupNotManagedError,
  InstanceNotInGroupError,
  PolicyBreaksFloorError,
  UnsupportedGroupError,
} from "./errors";
import { waveLeaseSeconds } from "./lock";
import { REQUIRED_PROCESSES, type ReplacementReason, type RolloutPolicy } from "./policy";
import {
  type GroupSnapshot,
  type InstanceSnapshot,
  type LaunchTemplateRef,
  MANAGED_TAG,
  QUARANTINE_TAG,
  type ReplacementTarget,
  type TargetGroupTiming,
} from "./types";
import { readinessSchedule } from "./wave";

/** One wave of a rollout: which old instances it replaces and how. */
export interface Wave {
  /** 0-based position in the rollout. */
  index: number;
  /** A canary wave replaces one instance and is probed before anything larger runs. */
  canary: boolean;
  /** Every old instance this wave replaces, oldest first. */
  instanceIds: string[];
  /**
   * Old instances taken out of service before the wave launches. Non-empty only when the wave is larger
   * than the surge allowance; their number never exceeds what minHealthyPercent lets go unavailable.
   */
  retireFirst: string[];
  /** Old instances drained and terminated once the wave's new instances passed their probes. */
  retireAfter: string[];
  /** Instances the wave launches (equal to instanceIds.length). */
  launchCount: number;
}

/** Capacity arithmetic behind a plan, all in instances. */
export interface CapacityPlan {
  desired: number;
  /** Healthy in-service instances that must remain at every moment: ceil(desired * minHealthy%). */
  floor: number;
  /** Instances allowed above desired while launching. */
  surge: number;
  /** Instances allowed to be unavailable: healthy now minus the floor. */
  unavailable: number;
  /** Largest wave: surge + unavailable, at least one. */
  batchSize: number;
  /** Most instances any wave adds above desired capacity. */
  peakSurge: number;
  /** Most instances any wave retires before it launches. */
  deepestDip: number;
  /**
   * The most instances a wave may ever take the group to: the original MaxSize plus the surge. A wave may
   * raise MaxSize up to it when the group grew meanwhile (a quarantine replaced one of its instances).
   */
  maxSizeLimit: number;
  /** MaxSize the group needs for the largest surge. */
  maxSizeNeeded: number;
  /** MinSize the group must allow while instances are retired before their wave launches. */
  minSizeNeeded: number;
}

/** Estimated duration of a rollout, from target-group settings and typical EC2 timings. */
export interface DurationEstimate {
  totalSeconds: number;
  perWaveSeconds: number;
  /** Seconds from launch until a new instance is likely healthy in every target group. */
  readySeconds: number;
  drainSeconds: number;
}

/** Group settings a replacement changes, as they were before it started; restored on every exit. */
export interface GroupSettings {
  launchTemplate: LaunchTemplateRef;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  suspendedProcesses: string[];
}

/** A complete, executable replacement plan. Plain data: the state machine carries it between steps. */
export interface ReplacementPlan {
  groupName: string;
  reason: ReplacementReason;
  target: ReplacementTarget;
  /** Settings read before anything changed: rollback restores exactly these. */
  previous: GroupSettings;
  /** The rollout policy in force (the request's, else the group's phoenix:policy tag, else the defaults). */
  policy: RolloutPolicy;
  targetGroupArns: string[];
  capacity: CapacityPlan;
  waves: Wave[];
  /** Instances left alone, and why. */
  skipped: { instanceId: string; why: string }[];
  /** Instances this execution replaces (its waves). */
  instancesToReplace: number;
  /** What a next execution replaces, when the waves are more than one execution's history can hold. */
  continuation?: { instanceIds: string[] };
  /** The most history events this execution's waves can write (the plan keeps it under 20,000). */
  historyEventsAtMost: number;
  estimate: DurationEstimate;
  /** Seconds the group's lock is held per wave before it counts as abandoned. */
  leaseSeconds: number;
  plannedAt: string;
}

/** What a plan is computed from; every field comes from a read-only AWS call or the request. */
export interface PlanInput {
  group: GroupSnapshot;
  target: ReplacementTarget;
  reason: ReplacementReason;
  instanceIds?: string[];
  policy: RolloutPolicy;
  targetGroups: TargetGroupTiming[];
  now: Date;
}

/** Typical EC2 timings used only for estimates, never for decisions. */
export const ESTIMATE_ASSUMPTIONS = { launchSeconds: 25, bootSeconds: 30, terminateApiSeconds: 2 } as const;

const isQuarantined = (instance: InstanceSnapshot) => instance.tags[QUARANTINE_TAG] !== undefined;
const isInService = (instance: InstanceSnapshot) => instance.lifecycleState === "InService";
const isHealthyInService = (instance: InstanceSnapshot) =>
  isInService(instance) && instance.healthStatus === "Healthy";

/** Refuses groups Phoenix must not or cannot roll: unmanaged, no launch template, vital processes suspended. */
export function assertReplaceable(group: GroupSnapshot): void {
  if (group.tags[MANAGED_TAG] !== "true") throw new GroupNotManagedError(group.groupName);
  if (group.mixedInstancesPolicy) {
    throw new UnsupportedGroupError(group.groupName, "mixed instances policies are not supported yet");
  }
  if (!group.launchTemplate) {
    throw new UnsupportedGroupError(
      group.groupName,
      "it has no launch template (launch configurations are retired)",
    );
  }
  const blocked = REQUIRED_PROCESSES.filter((process) => group.suspendedProcesses.includes(process));
  if (blocked.length > 0) {
    throw new UnsupportedGroupError(group.groupName, `processes ${blocked.join(", ")} are suspended`);
  }
}

/**
 * Orders instances for replacement: oldest first within each Availability Zone, always taking next from the
 * zone with the most instances still to replace, so the group stays balanced while it rolls.
 */
export function orderOldestFirstAcrossZones(instances: InstanceSnapshot[]): InstanceSnapshot[] {
  const launchedAt = (instance: InstanceSnapshot) =>
    instance.launchTime ? Date.parse(instance.launchTime) : Number.NEGATIVE_INFINITY;
  const byAge = (a: InstanceSnapshot, b: InstanceSnapshot) =>
    launchedAt(a) - launchedAt(b) || a.instanceId.localeCompare(b.instanceId);
  const zones = new Map<string, InstanceSnapshot[]>();
  for (const instance of instances) {
    const zone = zones.get(instance.availabilityZone) ?? [];
    zone.push(instance);
    zones.set(instance.availabilityZone, zone);
  }
  for (const zone of zones.values()) zone.sort(byAge);
  const ordered: InstanceSnapshot[] = [];
  while (ordered.length < instances.length) {
    let pick: InstanceSnapshot[] | undefined;
    for (const [, zone] of [...zones].sort(([a], [b]) => a.localeCompare(b))) {
      const head = zone[0];
      if (!head) continue;
      const pickHead = pick?.[0];
      if (
        !pick ||
        !pickHead ||
        zone.length > pick.length ||
        (zone.length === pick.length && byAge(head, pickHead) < 0)
      ) {
        pick = zone;
      }
    }
    const next = pick?.shift();
    if (!next) break;
    ordered.push(next);
  }
  return ordered;
}

/** Capacity arithmetic: floor rounds up and surge rounds down, so both fail closed. */
export function computeCapacity(
  group: GroupSnapshot,
  policy: RolloutPolicy,
): Omit<CapacityPlan, "peakSurge" | "deepestDip" | "maxSizeNeeded" | "maxSizeLimit" | "minSizeNeeded"> {
  const desired = group.desiredCapacity;
  const floor = Math.ceil((desired * policy.minHealthyPercent) / 100);
  // A non-zero surge always allows one instance, so a small group can still launch before it terminates.
  const surge =
    policy.maxSurgePercent > 0 ? Math.max(1, Math.floor((desired * policy.maxSurgePercent) / 100)) : 0;
  const healthyNow = group.instances.filter(isHealthyInService).length;
  // Only instances that are healthy now can be spared; unhealthy ones already count against the floor.
  const unavailable = Math.max(0, Math.min(desired, healthyNow) - floor);
  return { desired, floor, surge, unavailable, batchSize: surge + unavailable };
}

/** Chooses the instances a request replaces and those it leaves alone. */
export function selectInstances(
  group: GroupSnapshot,
  target: ReplacementTarget,
  reason: ReplacementReason,
  instanceIds: string[] | undefined,
): { chosen: InstanceSnapshot[]; skipped: { instanceId: string; why: string }[] } {
  const skipped: { instanceId: string; why: string }[] = [];
  if (instanceIds) {
    const byId = new Map(group.instances.map((instance) => [instance.instanceId, instance]));
    const missing = instanceIds.filter((id) => {
      const instance = byId.get(id);
      return !instance || !isInService(instance) || isQuarantined(instance);
    });
    if (missing.length > 0) throw new InstanceNotInGroupError(group.groupName, missing);
    return { chosen: [...new Set(instanceIds)].map((id) => byId.get(id) as InstanceSnapshot), skipped };
  }
  const chosen: InstanceSnapshot[] = [];
  for (const instance of group.instances) {
    if (isQuarantined(instance)) skipped.push({ instanceId: instance.instanceId, why: "quarantined" });
    else if (!isInService(instance)) {
      skipped.push({ instanceId: instance.instanceId, why: `lifecycle state ${instance.lifecycleState}` });
    } else if (reason === "new-image" || reason === "drift") {
      if (instance.imageId === target.imageId)
        skipped.push({ instanceId: instance.instanceId, why: "already on target image" });
      else chosen.push(instance);
    } else chosen.push(instance);
  }
  return { chosen, skipped };
}

/** Splits ordered instances into waves: an optional canary of one, then waves of at most batchSize. */
export function splitIntoWaves(
  ordered: string[],
  capacity: Pick<CapacityPlan, "batchSize" | "surge">,
  canary: boolean,
): Wave[] {
  const waves: Wave[] = [];
  let cursor = 0;
  while (cursor < ordered.length) {
    const isCanary = canary && waves.length === 0;
    const size = Math.min(isCanary ? 1 : capacity.batchSize, ordered.length - cursor);
    const instanceIds = ordered.slice(cursor, cursor + size);
    // What the surge cannot cover is retired before launch; splitIntoWaves is only called when it fits.
    const retireFirstCount = Math.max(0, size - capacity.surge);
    waves.push({
      index: waves.length,
      canary: isCanary,
      instanceIds,
      retireFirst: instanceIds.slice(0, retireFirstCount),
      retireAfter: instanceIds.slice(retireFirstCount),
      launchCount: size,
    });
    cursor += size;
  }
  return waves;
}

/** Estimates how long the plan takes, from the slowest target group's health checks and draining. */
export function estimateDuration(
  waves: Wave[],
  targetGroups: TargetGroupTiming[],
  policy: RolloutPolicy,
): DurationEstimate {
  const healthSeconds = Math.max(
    0,
    ...targetGroups.map((group) => group.healthCheckIntervalSeconds * group.healthyThresholdCount),
  );
  const drainSeconds = Math.max(0, ...targetGroups.map((group) => group.deregistrationDelaySeconds));
  const readySeconds = ESTIMATE_ASSUMPTIONS.launchSeconds + ESTIMATE_ASSUMPTIONS.bootSeconds + healthSeconds;
  const perWaveSeconds =
    readySeconds + policy.probes.bakeSeconds + drainSeconds + ESTIMATE_ASSUMPTIONS.terminateApiSeconds;
  const retireFirstSeconds = waves.filter((wave) => wave.retireFirst.length > 0).length * drainSeconds;
  return {
    totalSeconds: waves.length * perWaveSeconds + retireFirstSeconds,
    perWaveSeconds,
    readySeconds,
    drainSeconds,
  };
}

/** Step Functions Standard fails an execution at 25,000 history events; Phoenix plans to stay under this. */
export const HISTORY_EVENT_BUDGET = 20_000;
/**
 * History events outside the waves at most: plan, lock, prepare, finish or restore and settle, release,
 * outcome (about 120), plus the final reap loop (Wait, Task, Choice: 9 events) until the drain deadline.
 */
export function historyEventsOutsideWavesAtMost(
  policy: RolloutPolicy,
  estimate: Pick<DurationEstimate, "drainSeconds">,
): number {
  const poll = policy.readiness.pollSeconds;
  return 120 + 9 * (Math.ceil((estimate.drainSeconds + Math.max(60, 2 * poll)) / poll) + 1);
}

/**
 * The most history events one wave can write (replace-group.asl.json): its fixed steps, plus a readiness
 * check (Wait, Task, Choice: 9 events) at every point of the readiness schedule until the timeout, and
 * the bake's second probe.
 */
export function historyEventsPerWaveAtMost(
  policy: RolloutPolicy,
  estimate: Pick<DurationEstimate, "readySeconds">,
): number {
  const checks = readinessSchedule.checksAtMost(
    policy.readiness.pollSeconds,
    estimate.readySeconds,
    policy.readiness.timeoutSeconds,
  );
  return 60 + 9 * checks + (policy.probes.bakeSeconds > 0 ? 12 : 0);
}

/**
 * Plans a replacement: validates the group, chooses instances (oldest first, zone-balanced) and splits them
 * into waves that never take healthy in-service capacity below the floor. Throws a named error, having
 * changed nothing, when the group or the policy does not allow a safe rollout.
 */
export function planReplacement(input: PlanInput): ReplacementPlan {
  const { group, target, policy } = input;
  assertReplaceable(group);
  const { chosen, skipped } = selectInstances(group, target, input.reason, input.instanceIds);
  const arithmetic = computeCapacity(group, policy);
  if (chosen.length > 0 && arithmetic.batchSize < 1) {
    throw new PolicyBreaksFloorError(
      `No instance of "${group.groupName}" can be replaced: maxSurgePercent ${policy.maxSurgePercent} allows no ` +
        `extra instance and minHealthyPercent ${policy.minHealthyPercent} leaves none to spare ` +
        `(desired ${arithmetic.desired}, floor ${arithmetic.floor}). Allow a surge or lower minHealthyPercent.`,
      {
        groupName: group.groupName,
        capacity: arithmetic,
        policy: { maxSurgePercent: policy.maxSurgePercent, minHealthyPercent: policy.minHealthyPercent },
      },
    );
  }
  const ordered = orderOldestFirstAcrossZones(chosen).map((instance) => instance.instanceId);
  const allWaves = splitIntoWaves(ordered, arithmetic, policy.canary);
  // A Standard execution stops at 25,000 history events: past the waves one execution can hold at worst,
  // the rest continues in a new execution started at the end of this one.
  const fullEstimate = estimateDuration(allWaves, input.targetGroups, policy);
  const perWave = historyEventsPerWaveAtMost(policy, fullEstimate);
  const outside = historyEventsOutsideWavesAtMost(policy, fullEstimate);
  const maxWaves = Math.max(1, Math.floor((HISTORY_EVENT_BUDGET - outside) / perWave));
  const waves = allWaves.slice(0, maxWaves);
  const continuation =
    allWaves.length > maxWaves
      ? { instanceIds: allWaves.slice(maxWaves).flatMap((wave) => wave.instanceIds) }
      : undefined;
  const estimate = continuation ? estimateDuration(waves, input.targetGroups, policy) : fullEstimate;
  const peakSurge = Math.max(0, ...waves.map((wave) => wave.launchCount - wave.retireFirst.length));
  const deepestDip = Math.max(0, ...waves.map((wave) => wave.retireFirst.length));
  const capacity: CapacityPlan = {
    ...arithmetic,
    peakSurge,
    deepestDip,
    maxSizeNeeded: Math.max(group.maxSize, arithmetic.desired + peakSurge),
    maxSizeLimit: group.maxSize + arithmetic.surge,
    minSizeNeeded: Math.min(group.minSize, arithmetic.desired - deepestDip),
  };
  return {
    groupName: group.groupName,
    reason: input.reason,
    target,
    previous: {
      launchTemplate: group.launchTemplate as LaunchTemplateRef,
      minSize: group.minSize,
      maxSize: group.maxSize,
      desiredCapacity: group.desiredCapacity,
      suspendedProcesses: group.suspendedProcesses,
    },
    targetGroupArns: group.targetGroupArns,
    policy,
    capacity,
    waves,
    skipped,
    instancesToReplace: waves.reduce((sum, wave) => sum + wave.instanceIds.length, 0),
    ...(continuation ? { continuation } : {}),
    historyEventsAtMost: outside + waves.length * perWave,
    estimate,
    leaseSeconds: waveLeaseSeconds(policy, estimate),
    plannedAt: input.now.toISOString(),
  };
}
