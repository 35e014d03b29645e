import type { GroupSettings } from "./plan";
import { SUSPENDABLE_PROCESSES } from "./policy";
import type { GroupSnapshot } from "./types";

/** The UpdateAutoScalingGroup and ResumeProcesses a step must send to put a group's settings back. */
export interface Restoration {
  update: {
    launchTemplate?: { launchTemplateId: string; version: string };
    minSize: number;
    maxSize: number;
    desiredCapacity?: number;
  };
  resumeProcesses: string[];
}

/**
 * What to send to restore a group after a rollout. On success the new launch template version stays; after
 * a rollback the exact previous version string comes back. Desired capacity is never lowered here: sizes
 * are loosened just enough to hold the current desired capacity, and `settleCapacity` takes it back to
 * where it was once that cannot cost the floor. Only processes Phoenix could have suspended, and that were
 * running before, are resumed, so a process someone else suspended on purpose stays suspended.
 */
export function restorationFor(
  previous: GroupSettings,
  current: GroupSnapshot,
  mode: "completed" | "rolled-back",
): Restoration {
  const resumeProcesses = current.suspendedProcesses.filter(
    (process) =>
      (SUSPENDABLE_PROCESSES as readonly string[]).includes(process) &&
      !previous.suspendedProcesses.includes(process),
  );
  // Scaling may have moved desired capacity during the rollout: never set sizes that exclude it.
  const sizes = {
    minSize: Math.min(previous.minSize, current.desiredCapacity),
    maxSize: Math.max(previous.maxSize, current.desiredCapacity),
  };
  if (mode === "rolled-back") {
    return {
      update: {
        launchTemplate: {
          launchTemplateId: previous.launchTemplate.launchTemplateId,
          version: previous.launchTemplate.version,
        },
        ...sizes,
      },
      resumeProcesses,
    };
  }
  return { update: sizes, resumeProcesses };
}

/** The last step of a rollback: desired capacity (and the exact sizes) back as they were, or why not yet. */
export type Settlement =
  | {
      action: "set";
      /** Instances the rollout launched that serve nothing: terminated first, decrementing. */
      terminate: string[];
      update: { minSize: number; maxSize: number; desiredCapacity: number };
      surplus: number;
    }
  | { action: "wait"; terminate: string[]; reason: string; surplus: number };

/**
 * Takes desired capacity back to what it was before the rollout. Raising it is always safe. For a surplus,
 * instances the rollout launched that serve nothing go first, by name; lowering desired capacity for the
 * rest lets Auto Scaling choose what to terminate, so that waits until the group could lose that many of
 * its serving instances and still hold the floor (for instance while the replacement of a quarantined
 * instance becomes healthy).
 */
export function settleCapacity(args: {
  previous: GroupSettings;
  current: Pick<GroupSnapshot, "desiredCapacity">;
  serving: number;
  floor: number;
  /** Members launched by the rollout that do not serve (launching, unhealthy, never answering). */
  strays: string[];
}): Settlement {
  const { previous, current, serving, floor } = args;
  const surplus = current.desiredCapacity - previous.desiredCapacity;
  const terminate = args.strays.slice(0, Math.max(0, surplus));
  const update = {
    minSize: previous.minSize,
    maxSize: previous.maxSize,
    desiredCapacity: previous.desiredCapacity,
  };
  const rest = surplus - terminate.length;
  if (rest <= 0 || serving - rest >= floor) return { action: "set", terminate, update, surplus };
  return {
    action: "wait",
    terminate,
    surplus,
    reason: `lowering desired capacity ${current.desiredCapacity - terminate.length} -> ${previous.desiredCapacity} could leave ${serving - rest} healthy in service; the floor is ${floor}`,
  };
}
