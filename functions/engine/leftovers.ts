// Instances a replacement took out of service and left running: its reap gave up, it was stopped or timed
// out before its last steps, or a tag filter missed them. The janitor finishes a stopped replacement's; every
// sweep looks for all of them. Pure: the instances, their memberships and their executions' status come in.
import { QUARANTINE_TAG } from "./types";
import { RETIRING_TAG } from "./wave";

/** An instance tagged as retiring, as EC2 describes it. */
export interface RetiringInstance {
  instanceId: string;
  state?: string;
  tags: Record<string, string>;
}

/** What to do with the retiring instances found: terminate, or leave with the reason. */
export interface LeftoverPlan {
  terminate: string[];
  left: { instanceId: string; why: string }[];
}

/**
 * Terminates an instance tagged phoenix:retiring only when all of these hold: it is not quarantined
 * (evidence), not a member of any group (detaching ends when draining does, so it drained), not already
 * shutting down, and the execution that retired it is known to run no more (its reap would otherwise
 * finish it). An execution whose status could not be read keeps its instances (fail closed); one Step
 * Functions no longer knows (past its 90 days) does not.
 */
export function planLeftovers(
  retiring: RetiringInstance[],
  memberOf: Map<string, string>,
  executionStatus: Map<string, string | undefined>,
): LeftoverPlan {
  const plan: LeftoverPlan = { terminate: [], left: [] };
  for (const instance of [...retiring].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
    const leave = (why: string) => plan.left.push({ instanceId: instance.instanceId, why });
    const executionArn = instance.tags[RETIRING_TAG] ?? "";
    if (instance.tags[QUARANTINE_TAG] !== undefined) leave("quarantined");
    else if (["shutting-down", "terminated"].includes(instance.state ?? ""))
      leave(`already ${instance.state}`);
    else if (memberOf.has(instance.instanceId))
      leave(`still in ${memberOf.get(instance.instanceId)} (draining or detaching)`);
    else if (!executionStatus.has(executionArn))
      leave(`the status of ${executionArn || "its execution"} is unknown`);
    else if (executionStatus.get(executionArn) === "RUNNING") leave("its execution still runs and reaps it");
    else plan.terminate.push(instance.instanceId);
  }
  return plan;
}
