import type { GroupSettings } from "./plan";
import { SUSPENDABLE_PROCESSES } from "./policy";
import { type GroupSnapshot, QUARANTINE_TAG } from "./types";

/**
 * Processes a quarantined member depends on: with ReplaceUnhealthy running, Auto Scaling terminates an
 * instance that fails its health checks, which an isolated suspect does (scale-in protection does not cover
 * health replacements: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-protection.html).
 */
export const EVIDENCE_PROTECTING_PROCESSES = ["ReplaceUnhealthy"] as const;

/**
 * Whether a quarantined instance is still a member of the group: until its detach has finished (it drains
 * first), its quarantine has not resumed the processes it paused, and nobody else may.
 */
export function holdsEvidence(group: Pick<GroupSnapshot, "instances">): boolean {
  return group.instances.some(
    (instance) => instance.tags[QUARANTINE_TAG] !== undefined && !/^Terminat/.test(instance.lifecycleState),
  );
}

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
 * running before, are resumed, so a process someone else suspended on purpose stays suspended; and while a
 * quarantined instance is still in the group, the processes protecting it stay suspended too (its quarantine
 * resumes them once the suspect has left). `current` must carry its instances' tags.
 */
export function restorationFor(
  previous: GroupSettings,
  current: GroupSnapshot,
  mode: "completed" | "rolled-back",
): Restoration {
  const evidence = holdsEvidence(current);
  const resumeProcesses = current.suspendedProcesses.filter(
    (process) =>
      (SUSPENDABLE_PROCESSES as readonly string[]).includes(process) &&
      !previous.suspendedProcesses.includes(process) &&
      !(evidence && (EVIDENCE_PROTECTING_PROCESSES as readonly string[]).includes(process)),
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
