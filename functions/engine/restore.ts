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
 * What to send to restore a group after a rollout. On success the new launch template version stays and
 * desired capacity is left to the group; after a rollback the exact previous version string and desired
 * capacity come back too. Only processes Phoenix could have suspended, and that were running before, are
 * resumed, so a process someone else suspended on purpose stays suspended.
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
  if (mode === "rolled-back") {
    return {
      update: {
        launchTemplate: {
          launchTemplateId: previous.launchTemplate.launchTemplateId,
          version: previous.launchTemplate.version,
        },
        minSize: previous.minSize,
        maxSize: previous.maxSize,
        desiredCapacity: previous.desiredCapacity,
      },
      resumeProcesses,
    };
  }
  // Scaling may have moved desired capacity during the rollout: keep it, and never set MaxSize below it.
  return {
    update: {
      minSize: Math.min(previous.minSize, current.desiredCapacity),
      maxSize: Math.max(previous.maxSize, current.desiredCapacity),
    },
    resumeProcesses,
  };
}
