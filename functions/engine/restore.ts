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
  | { action: "set"; update: { minSize: number; maxSize: number; desiredCapacity: number }; surplus: number }
  | { action: "wait"; reason: string; surplus: number };

/**
 * Takes desired capacity back to what it was before the rollout. Raising it is always safe. Lowering it lets
 * Auto Scaling terminate instances of its choosing, so it waits until the group could lose that many of its
 * serving instances and still hold the floor (for instance while the replacement of a quarantined instance
 * becomes healthy).
 */
export function settleCapacity(args: {
  previous: GroupSettings;
  current: Pick<GroupSnapshot, "desiredCapacity">;
  serving: number;
  floor: number;
}): Settlement {
  const { previous, current, serving, floor } = args;
  const surplus = current.desiredCapacity - previous.desiredCapacity;
  const update = {
    minSize: previous.minSize,
    maxSize: previous.maxSize,
    desiredCapacity: previous.desiredCapacity,
  };
  if (surplus <= 0 || serving - surplus >= floor) return { action: "set", update, surplus };
  return {
    action: "wait",
    surplus,
    reason: `lowering desired capacity ${current.desiredCapacity} -> ${previous.desiredCapacity} could leave ${serving - surplus} healthy in service; the floor is ${floor}`,
  };
}
