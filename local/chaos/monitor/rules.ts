// The promises Phoenix documents (README: Policy, the age sweep's budgets, image waves), written again here
// from the documentation, in the monitor's own code. Nothing is imported from functions/: a monitor that
// computed the floor with Phoenix's own function would agree with Phoenix's bug.

/** README "Policy": defaults of a rollout policy. */
export const POLICY_DEFAULTS = { minHealthyPercent: 100, maxSurgePercent: 25 } as const;

/** The fields of a rollout policy the monitor judges by. */
export interface PolicyTerms {
  minHealthyPercent: number;
  maxSurgePercent: number;
  /** Where the terms came from (for violation messages). */
  source: "request" | "tag" | "defaults";
}

const percent = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 100 ? value : undefined;

/**
 * The policy in force for a replacement, as documented: the request's `policy`, else the group's
 * `phoenix:policy` tag (JSON), else the defaults. A tag that is not JSON gives the defaults, the strictest
 * floor (Phoenix refuses such a group anyway).
 */
export function policyTerms(requestPolicy: unknown, tags: Record<string, string>): PolicyTerms {
  const read = (policy: Record<string, unknown>, source: PolicyTerms["source"]): PolicyTerms => ({
    minHealthyPercent: percent(policy.minHealthyPercent) ?? POLICY_DEFAULTS.minHealthyPercent,
    maxSurgePercent: percent(policy.maxSurgePercent) ?? POLICY_DEFAULTS.maxSurgePercent,
    source,
  });
  if (requestPolicy && typeof requestPolicy === "object")
    return read(requestPolicy as Record<string, unknown>, "request");
  const tag = tags["phoenix:policy"];
  if (tag !== undefined) {
    try {
      const parsed = JSON.parse(tag) as unknown;
      if (parsed && typeof parsed === "object") return read(parsed as Record<string, unknown>, "tag");
    } catch {
      // falls through to the defaults
    }
  }
  return { ...POLICY_DEFAULTS, source: "defaults" };
}

/** README: floor F = ceil(D x minHealthy%). */
export const floorOf = (desired: number, terms: PolicyTerms) =>
  Math.ceil((Math.max(0, desired) * terms.minHealthyPercent) / 100);

/** README: surge S = floor(D x maxSurge%), at least one when non-zero. */
export const surgeOf = (desired: number, terms: PolicyTerms) =>
  terms.maxSurgePercent > 0 ? Math.max(1, Math.floor((desired * terms.maxSurgePercent) / 100)) : 0;

const UNITS: Record<string, number> = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1 };

/** "7d", "36h", "1d12h", "90m" in seconds (README: the age sweep); undefined when not such a duration. */
export function durationSeconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const parts = [...text.trim().matchAll(/(\d+)([wdhms])/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== text.trim()) return undefined;
  const seconds = parts.reduce((sum, part) => sum + Number(part[1]) * (UNITS[part[2] as string] ?? 0), 0);
  return seconds > 0 ? seconds : undefined;
}

/** "4/1h": at most 4 instances per rolling hour. */
export function rateBudget(text: string | undefined): { count: number; windowSeconds: number } | undefined {
  const match = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(text ?? "");
  const windowSeconds = durationSeconds(match?.[2]);
  if (!match || !windowSeconds || Number(match[1]) < 1) return undefined;
  return { count: Number(match[1]), windowSeconds };
}

/** Seconds of a schedule expression "rate(1 hour)", "rate(30 minutes)". */
export function scheduleSeconds(expression: string): number | undefined {
  const match = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) return undefined;
  const unit = match[2]?.startsWith("minute") ? 60 : match[2]?.startsWith("hour") ? 3600 : 86_400;
  return Number(match[1]) * unit;
}

const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** A maintenance window: days it opens, local start and end minute, IANA zone. */
export interface Window {
  days: boolean[];
  from: number;
  to: number;
  zone: string;
}

/** "Mon-Fri 02:00-05:00 Europe/Berlin", "daily 22:00-04:00 UTC", "Sat,Sun 02:00-06:00 Europe/Paris". */
export function maintenanceWindow(text: string | undefined): Window | undefined {
  const match = /^\s*(\S+)\s+(\d\d):(\d\d)-(\d\d):(\d\d)\s+(\S+)\s*$/.exec(text ?? "");
  if (!match) return undefined;
  const [, dayText, h1, m1, h2, m2, zone] = match as unknown as string[];
  const days = Array<boolean>(7).fill(false);
  if (/^(daily|everyday|every day)$/i.test(dayText as string)) days.fill(true);
  else {
    for (const part of (dayText as string).toLowerCase().split(",")) {
      const [first, last] = part.split("-");
      const a = WEEKDAYS.indexOf(first ?? "");
      const b = last === undefined ? a : WEEKDAYS.indexOf(last);
      if (a < 0 || b < 0) return undefined;
      for (let day = a; ; day = (day + 1) % 7) {
        days[day] = true;
        if (day === b) break;
      }
    }
  }
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: zone });
  } catch {
    return undefined;
  }
  return { days, from: Number(h1) * 60 + Number(m1), to: Number(h2) * 60 + Number(m2), zone: zone as string };
}

/**
 * Whether a window is open at an instant: the wall clock in the window's zone (so daylight saving is the
 * zone's: a window in the skipped spring hour never opens, the repeated autumn hour is inside twice).
 */
export function windowOpen(window: Window, at: number): boolean {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: window.zone,
    weekday: "short",
    hour: "numeric",
    minute: "numeric",
    hourCycle: "h23",
  }).formatToParts(new Date(at));
  const part = (type: string) => parts.find((item) => item.type === type)?.value ?? "";
  const day = WEEKDAYS.indexOf(part("weekday").toLowerCase().slice(0, 3));
  const minute = Number(part("hour")) * 60 + Number(part("minute"));
  if (window.from < window.to) return !!window.days[day] && minute >= window.from && minute < window.to;
  // A window past midnight belongs to the day it opened.
  return (
    (!!window.days[day] && minute >= window.from) || (!!window.days[(day + 6) % 7] && minute < window.to)
  );
}

/** A group's place in its channel's rollout: phoenix:wave (0 when absent); undefined when malformed. */
export function waveOf(tags: Record<string, string>): number | undefined {
  const text = tags["phoenix:wave"] ?? "0";
  return /^\d{1,3}$/.test(text) ? Number(text) : undefined;
}
