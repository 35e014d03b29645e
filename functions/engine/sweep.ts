// The age sweep's decisions: which instances are too old or drifted, and which of them may be replaced now
// within every budget. Pure: the fleet, the budgets used so far and the clock come in as data.
import { formatAge, parseDuration, parseRateBudget, type RateBudget } from "./durations";
import { InvalidInputError } from "./errors";
import { groupPolicy, POLICY_TAG } from "./policy";
import { type GroupSnapshot, type InstanceSnapshot, MANAGED_TAG, QUARANTINE_TAG } from "./types";
import { isWindowOpen, type MaintenanceWindow, nextOpening, parseMaintenanceWindow } from "./windows";

/** Tags a group may carry to override the sweep's defaults. */
export const SWEEP_TAGS = {
  maxAge: "phoenix:max-age",
  maintenanceWindow: "phoenix:maintenance-window",
  rateBudget: "phoenix:rate-budget",
} as const;

/** Stack-wide sweep settings (stack parameters; a group's tags override the first three). */
export interface SweepSettings {
  defaultMaxAgeSeconds: number;
  defaultRateBudget: RateBudget;
  defaultWindow?: MaintenanceWindow;
  /** Instances younger than this are never touched. */
  minAgeSeconds: number;
  /** An instance older than max age + grace is overdue: it is replaced even outside the window. */
  deadlineGraceSeconds: number;
  /** At most this many groups replacing at once, fleet-wide (running replacements included). */
  maxConcurrentGroups: number;
}

/** Why an instance is due. */
export type DueReason = "max-age" | "drift";

/** An instance the sweep considers. */
export interface SweepCandidate {
  instanceId: string;
  ageSeconds: number;
  reasons: DueReason[];
  /** Past max age + grace: windows no longer hold it back (the capacity floor still does). */
  overdue: boolean;
}

/** What the sweep decided for one group. */
export interface GroupSweepDecision {
  groupName: string;
  action: "replace" | "skip";
  why: string;
  /** Instances to replace now, oldest first. */
  instances: SweepCandidate[];
  /** Due instances left for a later sweep (budget, window). */
  deferred: SweepCandidate[];
  maxAge: string;
  rateBudget: string;
  budgetUsed: number;
  maintenanceWindow?: string;
  /** The malformed tag that made the sweep skip this group, and what is wrong with it. */
  invalidTag?: InvalidTag;
}

/** A group tag the sweep cannot read: the group is skipped (fail closed), the others go on. */
export interface InvalidTag {
  tag: string;
  reason: string;
}

/** The whole sweep: one decision per managed group, oldest due instance first. */
export interface SweepPlan {
  sweptAt: string;
  decisions: GroupSweepDecision[];
  runningGroups: number;
  maxConcurrentGroups: number;
  instancesDue: number;
  instancesToReplace: number;
}

/** What the sweep knows about each group besides its snapshot. */
export interface SweepGroupInput {
  group: GroupSnapshot;
  /** Image of the group's current launch template version (undefined if it could not be resolved). */
  currentImageId?: string;
  /** True when a replacement of this group is running or holds its lock. */
  replacing: boolean;
  /** Instances replaced within the group's rate-budget window. */
  budgetUsed: number;
}

/** Age of an instance in seconds (time since it launched). */
export const ageSeconds = (instance: InstanceSnapshot, now: Date) =>
  instance.launchTime ? Math.max(0, (now.getTime() - Date.parse(instance.launchTime)) / 1000) : 0;

/** The group's settings from its tags, falling back to the stack's; a malformed tag is named (fail closed). */
export function groupSweepSettings(
  group: GroupSnapshot,
  settings: SweepSettings,
): { maxAgeSeconds: number; rateBudget: RateBudget; window?: MaintenanceWindow } | { invalid: InvalidTag } {
  const maxAgeTag = group.tags[SWEEP_TAGS.maxAge];
  const maxAgeSeconds = maxAgeTag === undefined ? settings.defaultMaxAgeSeconds : parseDuration(maxAgeTag);
  if (maxAgeSeconds === undefined)
    return {
      invalid: { tag: SWEEP_TAGS.maxAge, reason: `"${maxAgeTag}" is not a duration like 7d or 36h` },
    };
  const budgetTag = group.tags[SWEEP_TAGS.rateBudget];
  const rateBudget = budgetTag === undefined ? settings.defaultRateBudget : parseRateBudget(budgetTag);
  if (!rateBudget)
    return { invalid: { tag: SWEEP_TAGS.rateBudget, reason: `"${budgetTag}" is not a budget like 4/1h` } };
  const windowTag = group.tags[SWEEP_TAGS.maintenanceWindow];
  const window = windowTag === undefined ? settings.defaultWindow : parseMaintenanceWindow(windowTag);
  if (windowTag !== undefined && !window) {
    return {
      invalid: {
        tag: SWEEP_TAGS.maintenanceWindow,
        reason: `"${windowTag}" is not like "Mon-Fri 02:00-05:00 Europe/Berlin"`,
      },
    };
  }
  return { maxAgeSeconds, rateBudget, window };
}

/**
 * What is wrong with the group's phoenix:policy tag, if anything: a replacement the sweep started would
 * refuse it, so the sweep skips the group instead of starting one that cannot run.
 */
export function policyTagProblem(tags: Record<string, string>): InvalidTag | undefined {
  try {
    groupPolicy(tags);
    return undefined;
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const reason = error.issues
      .map((issue) => (issue.path === POLICY_TAG ? issue.message : `${issue.path}: ${issue.message}`))
      .join("; ");
    return { tag: POLICY_TAG, reason };
  }
}

/** Instances of a group that are due (too old or drifted), oldest first, never quarantined or too young. */
export function dueInstances(
  input: SweepGroupInput,
  maxAgeSeconds: number,
  settings: SweepSettings,
  now: Date,
): SweepCandidate[] {
  return input.group.instances
    .filter(
      (instance) => instance.lifecycleState === "InService" && instance.tags[QUARANTINE_TAG] === undefined,
    )
    .map((instance) => {
      const age = ageSeconds(instance, now);
      const reasons: DueReason[] = [];
      if (age > maxAgeSeconds) reasons.push("max-age");
      if (input.currentImageId && instance.imageId && instance.imageId !== input.currentImageId)
        reasons.push("drift");
      return {
        instanceId: instance.instanceId,
        ageSeconds: age,
        reasons,
        overdue: age > maxAgeSeconds + settings.deadlineGraceSeconds,
      };
    })
    .filter((candidate) => candidate.reasons.length > 0 && candidate.ageSeconds >= settings.minAgeSeconds)
    .sort((a, b) => b.ageSeconds - a.ageSeconds || a.instanceId.localeCompare(b.instanceId));
}

/**
 * Plans one sweep. Every budget fails closed: a group with a malformed tag, a replacement already running,
 * a closed window (unless an instance is overdue) or a spent rate budget is skipped with the reason; at most
 * maxConcurrentGroups groups replace at once fleet-wide, the groups with the oldest due instance first.
 */
export function planSweep(inputs: SweepGroupInput[], settings: SweepSettings, now: Date): SweepPlan {
  const decisions: GroupSweepDecision[] = [];
  const ready: { decision: GroupSweepDecision; oldest: number }[] = [];
  const runningGroups = inputs.filter((input) => input.replacing).length;
  for (const input of inputs) {
    const { group } = input;
    const base = { groupName: group.groupName, instances: [], deferred: [], budgetUsed: input.budgetUsed };
    if (group.tags[MANAGED_TAG] !== "true") continue;
    const skipInvalid = (invalidTag: InvalidTag, maxAge: string, rateBudget: string) =>
      decisions.push({
        ...base,
        action: "skip",
        why: `invalid tag ${invalidTag.tag}: ${invalidTag.reason}`,
        maxAge,
        rateBudget,
        invalidTag,
      });
    const resolved = groupSweepSettings(group, settings);
    if ("invalid" in resolved) {
      skipInvalid(resolved.invalid, "?", "?");
      continue;
    }
    const policyProblem = policyTagProblem(group.tags);
    if (policyProblem) {
      skipInvalid(policyProblem, formatAge(resolved.maxAgeSeconds), resolved.rateBudget.text);
      continue;
    }
    const described = {
      maxAge: formatAge(resolved.maxAgeSeconds),
      rateBudget: resolved.rateBudget.text,
      maintenanceWindow: resolved.window?.text,
    };
    const due = dueInstances(input, resolved.maxAgeSeconds, settings, now);
    const skip = (why: string, deferred = due) =>
      decisions.push({ ...base, ...described, action: "skip", why, deferred });
    if (due.length === 0) {
      skip("nothing due");
      continue;
    }
    if (input.replacing) {
      skip("a replacement of this group is already running");
      continue;
    }
    let eligible = due;
    if (resolved.window && !isWindowOpen(resolved.window, now)) {
      eligible = due.filter((candidate) => candidate.overdue);
      if (eligible.length === 0) {
        const opens = nextOpening(resolved.window, now);
        skip(`outside its maintenance window${opens ? ` (opens ${opens.toISOString()})` : ""}`);
        continue;
      }
    }
    const remaining = Math.max(0, resolved.rateBudget.count - input.budgetUsed);
    if (remaining === 0) {
      skip(`rate budget ${resolved.rateBudget.text} used up (${input.budgetUsed} replaced in the window)`);
      continue;
    }
    const instances = eligible.slice(0, remaining);
    const deferred = due.filter((candidate) => !instances.includes(candidate));
    const why =
      `${instances.length} due (${summarizeReasons(instances)})` +
      (deferred.length > 0
        ? `; ${deferred.length} deferred by ${eligible.length < due.length ? "the window" : "the rate budget"}`
        : "");
    const decision: GroupSweepDecision = {
      ...base,
      ...described,
      action: "replace",
      why,
      instances,
      deferred,
    };
    decisions.push(decision);
    ready.push({ decision, oldest: instances[0]?.ageSeconds ?? 0 });
  }
  // The fleet-wide budget goes to the groups whose oldest due instance is oldest.
  ready.sort((a, b) => b.oldest - a.oldest || a.decision.groupName.localeCompare(b.decision.groupName));
  let slots = Math.max(0, settings.maxConcurrentGroups - runningGroups);
  for (const { decision } of ready) {
    if (slots > 0) {
      slots--;
      continue;
    }
    decision.action = "skip";
    decision.why = `fleet budget: at most ${settings.maxConcurrentGroups} groups replacing at once`;
    decision.deferred = [...decision.instances, ...decision.deferred];
    decision.instances = [];
  }
  decisions.sort(
    (a, b) =>
      (b.instances[0]?.ageSeconds ?? b.deferred[0]?.ageSeconds ?? 0) -
      (a.instances[0]?.ageSeconds ?? a.deferred[0]?.ageSeconds ?? 0),
  );
  return {
    sweptAt: now.toISOString(),
    decisions,
    runningGroups,
    maxConcurrentGroups: settings.maxConcurrentGroups,
    instancesDue: decisions.reduce(
      (sum, decision) => sum + decision.instances.length + decision.deferred.length,
      0,
    ),
    instancesToReplace: decisions.reduce((sum, decision) => sum + decision.instances.length, 0),
  };
}

function summarizeReasons(candidates: SweepCandidate[]): string {
  const count = (reason: DueReason) =>
    candidates.filter((candidate) => candidate.reasons.includes(reason)).length;
  const parts = [
    count("max-age") && `${count("max-age")} over max age`,
    count("drift") && `${count("drift")} drifted`,
  ];
  const overdue = candidates.filter((candidate) => candidate.overdue).length;
  return [...parts, overdue && `${overdue} overdue`].filter(Boolean).join(", ");
}

/** The replacement reason for a sweep's instances: drift when every one is drifted and none too old. */
export function sweepReason(instances: SweepCandidate[]): "max-age" | "drift" {
  return instances.every(
    (candidate) => candidate.reasons.includes("drift") && !candidate.reasons.includes("max-age"),
  )
    ? "drift"
    : "max-age";
}
