// Blast-radius budgets for quarantine requests: a request, however it arrives, may take at most so many
// instances at once, at most so many of one group within an hour, and never a whole group unless an
// incident responder says so. Pure: the request, what the groups hold and what was used come in.

/** The stack's quarantine budgets (params quarantineMaxPerRequest, quarantineMaxPerHour). */
export interface QuarantineBudget {
  maxPerRequest: number;
  maxPerGroupPerHour: number;
}

/** One group a request reaches into: its members and the suspects named in it. */
export interface GroupReach {
  groupName: string;
  /** Instances of the group that are not on their way out (every one that serves or will). */
  members: string[];
  requested: string[];
}

/** The rule a refused request broke. */
export type QuarantineBudgetRule =
  | "quarantine-per-request"
  | "quarantine-whole-group"
  | "quarantine-per-hour";

export type BudgetVerdict =
  | { allowed: true }
  | { allowed: false; rule: QuarantineBudgetRule; reason: string };

/** Checks a request's size and reach, before anything is counted: refused whole, or allowed. */
export function judgeQuarantineReach(args: {
  instanceIds: string[];
  groups: GroupReach[];
  /** The request asked for every instance of a group (`all`), and came from the incident responders. */
  wholeGroupAllowed: boolean;
  budget: QuarantineBudget;
}): BudgetVerdict {
  const { instanceIds, groups, budget } = args;
  if (instanceIds.length > budget.maxPerRequest)
    return {
      allowed: false,
      rule: "quarantine-per-request",
      reason: `${instanceIds.length} instances in one request; at most ${budget.maxPerRequest} (param quarantineMaxPerRequest)`,
    };
  for (const group of groups) {
    const remaining = group.members.filter((id) => !group.requested.includes(id));
    if (remaining.length === 0 && !args.wholeGroupAllowed)
      return {
        allowed: false,
        rule: "quarantine-whole-group",
        reason: `the request names every instance of ${group.groupName} (${group.members.length}); only an incident responder's request with "all": true may`,
      };
  }
  return { allowed: true };
}

/** Checks one group's hourly budget given what was used within the last hour. */
export function judgeHourlyBudget(
  groupName: string,
  count: number,
  usedLastHour: number,
  budget: QuarantineBudget,
): BudgetVerdict {
  if (usedLastHour + count <= budget.maxPerGroupPerHour) return { allowed: true };
  return {
    allowed: false,
    rule: "quarantine-per-hour",
    reason: `${groupName}: ${usedLastHour} instances quarantined within the last hour, ${count} more would pass ${budget.maxPerGroupPerHour} (param quarantineMaxPerHour)`,
  };
}
