import type { DurationEstimate, GroupSettings } from "./plan";
import type { RolloutPolicy } from "./policy";

/** Key of the item that says which execution is replacing a group. */
export const groupLockKey = (groupName: string) => `lock#group#${groupName}`;

/**
 * How long one wave may hold the group's lock before it counts as abandoned: the longest a wave can take
 * (readiness timeout, bake twice, draining twice with its grace) plus ten minutes for retries. The lease is
 * renewed at the start of every wave, so a long rollout keeps it and a crashed one loses it soon.
 */
export function waveLeaseSeconds(
  policy: RolloutPolicy,
  estimate: Pick<DurationEstimate, "drainSeconds">,
): number {
  const drainWithGrace = estimate.drainSeconds + Math.max(60, 2 * policy.readiness.pollSeconds);
  return policy.readiness.timeoutSeconds + 2 * policy.probes.bakeSeconds + 2 * drainWithGrace + 600;
}

/** The lock item as stored. */
export interface GroupLock {
  groupName: string;
  owner: string;
  acquiredAt: string;
  /** Epoch seconds after which another execution may take the lock. */
  expiresAt: number;
  /** The group's settings before the replacement, so an abandoned one can be undone without its state. */
  previous?: GroupSettings;
}
