import type { Wave } from "./plan";
import type { RolloutPolicy } from "./policy";
import {
  type GroupSnapshot,
  type InstanceSnapshot,
  QUARANTINE_TAG,
  type ReplacementTarget,
  type TargetHealth,
} from "./types";

/** What the launch step recorded, so later checks can tell the wave's new instances apart. */
export interface WaveLaunch {
  launchedAt: string;
  /** The wave fails if its instances are not ready by then. */
  deadline: string;
  /** Every instance id in the group just before the launch. */
  baselineIds: string[];
  launchCount: number;
  desiredBefore: number;
  desiredAfter: number;
  /** Seconds the state machine waits before the first readiness check. */
  nextCheckSeconds: number;
}

/** Result of one readiness check of a wave. */
export interface ReadinessVerdict {
  ready: boolean;
  timedOut: boolean;
  /** The wave's new instances identified so far (at most launchCount). */
  newInstanceIds: string[];
  /** Why the wave is not ready yet, one line per instance or shortfall. */
  waiting: string[];
  /** Seconds the state machine waits before the next check. */
  nextCheckSeconds: number;
  checkedAt: string;
}

const TERMINATING = /^Terminating/;

/**
 * Identifies the wave's new instances: launched from the target version after the launch step (not in the
 * baseline) and not terminating. Sorted by id so repeated checks identify the same ones.
 */
export function identifyNewInstances(
  group: GroupSnapshot,
  launch: Pick<WaveLaunch, "baselineIds" | "launchCount">,
  target: Pick<ReplacementTarget, "version">,
): InstanceSnapshot[] {
  const baseline = new Set(launch.baselineIds);
  return group.instances
    .filter(
      (instance) =>
        !baseline.has(instance.instanceId) &&
        instance.launchTemplateVersion === target.version &&
        !TERMINATING.test(instance.lifecycleState),
    )
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId))
    .slice(0, launch.launchCount);
}

/**
 * The readiness schedule of a wave: the first check at three quarters of the estimated ready time, then
 * every pollSeconds while readiness is likely (up to twice the estimate), then backing off (a quarter of
 * the time already waited) so that a slow wave costs a bounded number of checks, and so of history
 * events, before its timeout. Never past the deadline by more than a second.
 */
export const readinessSchedule = {
  first: (readySeconds: number) => Math.max(1, Math.ceil(readySeconds * 0.75)),
  next(pollSeconds: number, readySeconds: number, waitedSeconds: number): number {
    return waitedSeconds < 2 * readySeconds
      ? pollSeconds
      : Math.max(pollSeconds, Math.ceil(waitedSeconds / 4));
  },
  /** The most checks a wave can make before its timeout (the plan's history bound). */
  checksAtMost(pollSeconds: number, readySeconds: number, timeoutSeconds: number): number {
    let waited = Math.min(readinessSchedule.first(readySeconds), timeoutSeconds);
    let checks = 1;
    while (waited < timeoutSeconds) {
      waited += readinessSchedule.next(pollSeconds, readySeconds, waited);
      checks++;
    }
    return checks;
  },
};

/** Seconds until the next check: the poll interval, but never past the deadline by more than a second. */
export function nextCheckDelay(pollSeconds: number, deadline: string, now: Date): number {
  const remaining = Math.ceil((Date.parse(deadline) - now.getTime()) / 1000);
  return Math.max(1, Math.min(pollSeconds, remaining + 1));
}

/** Target health of one instance across the given target groups, as lines saying what is not healthy. */
export function unhealthyTargets(
  instanceId: string,
  targetGroupArns: string[],
  health: TargetHealth[],
): string[] {
  return targetGroupArns.flatMap((arn) => {
    const entry = health.find((item) => item.targetGroupArn === arn && item.instanceId === instanceId);
    if (!entry) return [`${instanceId} not registered in ${shortArn(arn)}`];
    if (entry.state === "healthy") return [];
    return [`${instanceId} ${entry.state} in ${shortArn(arn)}${entry.reason ? ` (${entry.reason})` : ""}`];
  });
}

/** Decides whether a launched wave is ready: every new instance InService, Healthy and healthy in every target group. */
export function assessReadiness(args: {
  group: GroupSnapshot;
  launch: WaveLaunch;
  target: ReplacementTarget;
  targetHealth: TargetHealth[];
  policy: RolloutPolicy;
  /** The plan's estimate of seconds from launch to healthy (sets the readiness schedule). */
  readySeconds: number;
  now: Date;
}): ReadinessVerdict {
  const { group, launch, target, targetHealth, policy, now } = args;
  const fresh = identifyNewInstances(group, launch, target);
  const waiting: string[] = [];
  if (fresh.length < launch.launchCount) {
    waiting.push(`${launch.launchCount - fresh.length} of ${launch.launchCount} instances not launched yet`);
  }
  for (const instance of fresh) {
    if (instance.lifecycleState !== "InService")
      waiting.push(`${instance.instanceId} ${instance.lifecycleState}`);
    else if (instance.healthStatus !== "Healthy")
      waiting.push(`${instance.instanceId} ${instance.healthStatus}`);
    else waiting.push(...unhealthyTargets(instance.instanceId, group.targetGroupArns, targetHealth));
  }
  const ready = waiting.length === 0;
  const timedOut = !ready && now.getTime() >= Date.parse(launch.deadline);
  return {
    ready,
    timedOut,
    newInstanceIds: fresh.map((instance) => instance.instanceId),
    waiting,
    nextCheckSeconds: nextCheckDelay(
      readinessSchedule.next(
        policy.readiness.pollSeconds,
        args.readySeconds,
        (now.getTime() - Date.parse(launch.launchedAt)) / 1000,
      ),
      launch.deadline,
      now,
    ),
    checkedAt: now.toISOString(),
  };
}

/** Everything the probe step observed about a wave's new instances. */
export interface ProbeEvidence {
  instances: { instanceId: string; imageId?: string; state?: string }[];
  targetGroupArns: string[];
  targetHealth: TargetHealth[];
  http: { instanceId: string; status?: number; error?: string }[];
  alarms: { alarmName: string; state?: string }[];
}

/** One named check and its outcome. */
export interface ProbeCheck {
  check: "target-health" | "image" | "http" | "alarms";
  passed: boolean;
  detail: string;
}

/** Pass or fail for a wave, with the reasons a person needs to act on a failure. */
export interface ProbeVerdict {
  passed: boolean;
  reasons: string[];
  checks: ProbeCheck[];
}

/** Judges a wave from probe evidence. Missing evidence fails (fail closed): an absent alarm is not OK. */
export function judgeProbes(args: {
  waveInstanceIds: string[];
  evidence: ProbeEvidence;
  target: ReplacementTarget;
  policy: RolloutPolicy;
}): ProbeVerdict {
  const { waveInstanceIds, evidence, target, policy } = args;
  const checks: ProbeCheck[] = [];
  const record = (check: ProbeCheck["check"], failures: string[], ok: string) =>
    checks.push({ check, passed: failures.length === 0, detail: failures.length ? failures.join("; ") : ok });

  record(
    "target-health",
    waveInstanceIds.flatMap((id) => unhealthyTargets(id, evidence.targetGroupArns, evidence.targetHealth)),
    `${waveInstanceIds.length} healthy in ${evidence.targetGroupArns.length} target groups`,
  );

  record(
    "image",
    waveInstanceIds.flatMap((id) => {
      const instance = evidence.instances.find((item) => item.instanceId === id);
      if (!instance) return [`${id} not found`];
      if (instance.state && instance.state !== "running") return [`${id} is ${instance.state}`];
      return instance.imageId === target.imageId
        ? []
        : [`${id} runs ${instance.imageId ?? "no image"}, not ${target.imageId}`];
    }),
    `all on ${target.imageId}`,
  );

  if (policy.probes.http) {
    const { path, expectedStatus } = policy.probes.http;
    record(
      "http",
      waveInstanceIds.flatMap((id) => {
        const result = evidence.http.find((item) => item.instanceId === id);
        if (!result) return [`${id} not probed`];
        if (result.error) return [`${id} GET ${path}: ${result.error}`];
        return result.status === expectedStatus
          ? []
          : [`${id} GET ${path} returned ${result.status}, expected ${expectedStatus}`];
      }),
      `GET ${path} returned ${expectedStatus}`,
    );
  }

  if (policy.probes.alarms.length > 0) {
    record(
      "alarms",
      policy.probes.alarms.flatMap((name) => {
        const alarm = evidence.alarms.find((item) => item.alarmName === name);
        if (!alarm?.state) return [`alarm ${name} does not exist`];
        return alarm.state === "OK" ? [] : [`alarm ${name} is ${alarm.state}`];
      }),
      `${policy.probes.alarms.length} alarms OK`,
    );
  }

  const reasons = checks.filter((check) => !check.passed).map((check) => `${check.check}: ${check.detail}`);
  return { passed: reasons.length === 0, reasons, checks };
}

/** The readable tail of an ARN (targetgroup/name/id -> name). */
export function shortArn(arn: string): string {
  const parts = arn.split("/");
  return parts.length >= 2 ? (parts[parts.length - 2] ?? arn) : arn;
}

/**
 * Which named instances are live members Phoenix may act on (terminate, re-register): in the group, not
 * terminating or detaching, and never quarantined. Everything else is reported as skipped with the reason.
 */
export function liveMembers(
  instanceIds: string[],
  group: GroupSnapshot,
  details: { instanceId: string; tags: Record<string, string> }[],
): { live: string[]; skipped: { instanceId: string; why: string }[] } {
  const members = new Map(group.instances.map((instance) => [instance.instanceId, instance]));
  const quarantined = new Set(
    details.filter((detail) => detail.tags[QUARANTINE_TAG] !== undefined).map((detail) => detail.instanceId),
  );
  const live: string[] = [];
  const skipped: { instanceId: string; why: string }[] = [];
  for (const instanceId of new Set(instanceIds)) {
    const member = members.get(instanceId);
    if (quarantined.has(instanceId)) skipped.push({ instanceId, why: "quarantined" });
    else if (!member) skipped.push({ instanceId, why: "no longer in the group" });
    else if (TERMINATING.test(member.lifecycleState) || member.lifecycleState.startsWith("Detach")) {
      skipped.push({ instanceId, why: `already ${member.lifecycleState}` });
    } else live.push(instanceId);
  }
  return { live, skipped };
}

/**
 * A wave as it stands when it starts: the named instances still live (one the wave would replace may have
 * been quarantined or terminated by AWS since the plan, and AWS or the quarantine refilled its place), so
 * the wave launches only for those and never leaves a surplus behind.
 */
export function waveAtStart(
  wave: Pick<Wave, "instanceIds">,
  group: GroupSnapshot,
  details: { instanceId: string; tags: Record<string, string> }[],
): { liveIds: string[]; launchCount: number; gone: { instanceId: string; why: string }[] } {
  const { live, skipped } = liveMembers(wave.instanceIds, group, details);
  return {
    liveIds: live,
    launchCount: live.length,
    gone: skipped,
  };
}

/** Members serving now: InService, Healthy, and healthy in every target group of the group. */
export function servingMembers(group: GroupSnapshot, targetHealth: TargetHealth[]): string[] {
  return group.instances
    .filter(
      (instance) =>
        instance.lifecycleState === "InService" &&
        instance.healthStatus === "Healthy" &&
        unhealthyTargets(instance.instanceId, group.targetGroupArns, targetHealth).length === 0,
    )
    .map((instance) => instance.instanceId);
}

/**
 * Whether instances may be taken out of service without going below the floor. Fails closed: whatever
 * else is out of service right now (a quarantined instance, one AWS is replacing) counts against it.
 */
export function floorVerdict(
  serving: string[],
  removing: string[],
  floor: number,
): { allowed: boolean; remaining: number; reason: string } {
  const leaving = new Set(removing);
  const remaining = serving.filter((id) => !leaving.has(id)).length;
  return {
    allowed: remaining >= floor,
    remaining,
    reason: `taking ${removing.length} out of service would leave ${remaining} healthy in service; the floor is ${floor}`,
  };
}

/**
 * Which of a failed wave's new instances the rollback terminates now: every one that is not serving, and
 * serving ones only while the group keeps its floor without them (an old instance the wave replaced may be
 * gone, quarantined say, and a new one is standing in for it). The rest stay until the rollback's last step
 * lowers desired capacity, which waits until the floor allows it.
 */
export function chooseRollbackTerminations(
  launched: string[],
  serving: string[],
  floor: number,
): { terminate: string[]; keep: string[] } {
  const servingSet = new Set(serving);
  const terminate = launched.filter((id) => !servingSet.has(id));
  const keep: string[] = [];
  let remaining = serving.length;
  for (const id of launched.filter((item) => servingSet.has(item))) {
    if (remaining - 1 >= floor) {
      terminate.push(id);
      remaining--;
    } else keep.push(id);
  }
  return { terminate, keep };
}

/** Tag that marks an instance a replacement is retiring (so a retried step finds what it left half done). */
export const RETIRING_TAG = "phoenix:retiring";
/** Tag with the time an instance was taken out of service (its draining ends a deregistration delay later). */
export const RETIRED_AT_TAG = "phoenix:retired-at";

/**
 * Seconds until the retired instances still waiting can have drained: the latest retirement plus the
 * deregistration delay, and a second for Auto Scaling to finish the detach. Undefined when none says when.
 */
export function secondsUntilDrained(
  waiting: { tags: Record<string, string> }[],
  drainSeconds: number,
  now: Date,
): number | undefined {
  const retiredAt = waiting
    .map((instance) => Date.parse(instance.tags[RETIRED_AT_TAG] ?? ""))
    .filter((at) => Number.isFinite(at));
  if (retiredAt.length === 0) return undefined;
  return Math.max(0, Math.ceil((Math.max(...retiredAt) + drainSeconds * 1000 - now.getTime()) / 1000)) + 1;
}

/**
 * The end of a retirement: instances this execution took out of service (tagged RETIRING_TAG with its id)
 * are terminated once Auto Scaling has finished detaching them, that is once their target groups drained
 * them; those still detaching are waited for. Quarantined instances are never terminated.
 */
export function planReap(
  retiring: { instanceId: string; state?: string; tags: Record<string, string> }[],
  group: GroupSnapshot,
): { terminate: string[]; waiting: string[] } {
  const members = new Set(group.instances.map((instance) => instance.instanceId));
  const candidates = retiring.filter(
    (instance) =>
      instance.tags[QUARANTINE_TAG] === undefined &&
      !["shutting-down", "terminated"].includes(instance.state ?? ""),
  );
  return {
    terminate: candidates
      .filter((instance) => !members.has(instance.instanceId))
      .map((i) => i.instanceId)
      .sort(),
    waiting: candidates
      .filter((instance) => members.has(instance.instanceId))
      .map((i) => i.instanceId)
      .sort(),
  };
}

/** When to stop waiting for retired instances to drain: their deregistration delay plus a grace. */
export function reapDeadline(startedAt: Date, drainSeconds: number, pollSeconds: number): string {
  return new Date(startedAt.getTime() + (drainSeconds + Math.max(60, 2 * pollSeconds)) * 1000).toISOString();
}

/** Why a wave failed, in lines a person can act on, from whatever the wave recorded before it stopped. */
export function explainWaveFailure(args: {
  waveIndex: number;
  readiness?: { timedOut?: boolean; waiting?: string[] };
  verdict?: { passed?: boolean; reasons?: string[] };
  failure?: { Error: string; Cause?: string };
}): string[] {
  const reasons: string[] = [];
  if (args.failure) reasons.push(`${args.failure.Error}: ${args.failure.Cause ?? "no cause given"}`);
  else if (args.verdict && args.verdict.passed === false) reasons.push(...(args.verdict.reasons ?? []));
  else if (args.readiness?.timedOut) {
    reasons.push(`not ready before the readiness timeout: ${(args.readiness.waiting ?? []).join("; ")}`);
  }
  if (reasons.length === 0) reasons.push("unknown failure");
  return reasons.map((reason) => `wave ${args.waveIndex}: ${reason}`);
}
