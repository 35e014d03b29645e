// Maintenance windows in a named time zone, e.g. "Mon-Fri 02:00-05:00 Europe/Berlin" or
// "daily 22:00-04:00 America/New_York" (a window may run past midnight). Windows are wall-clock times in
// their zone, so they follow daylight-saving changes: on the night clocks spring forward a window that
// lies in the skipped hour does not open, and on the night they fall back the repeated hour counts twice.

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

/** A parsed maintenance window. */
export interface MaintenanceWindow {
  /** Days (0 = Sunday) on which the window opens. */
  days: Set<number>;
  /** Minutes after local midnight. */
  startMinute: number;
  endMinute: number;
  timeZone: string;
  text: string;
}

function parseDays(text: string): Set<number> | undefined {
  if (/^(daily|every ?day)$/i.test(text)) return new Set([0, 1, 2, 3, 4, 5, 6]);
  const days = new Set<number>();
  for (const part of text.split(",")) {
    const [from, to] = part
      .split("-")
      .map((day) => DAYS.findIndex((name) => name.toLowerCase() === day.trim().toLowerCase()));
    if (from === undefined || from < 0 || (to !== undefined && to < 0)) return undefined;
    if (to === undefined) days.add(from);
    else
      for (let day = from; ; day = (day + 1) % 7) {
        days.add(day);
        if (day === to) break;
      }
  }
  return days.size > 0 ? days : undefined;
}

function parseMinute(text: string): number | undefined {
  const match = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(text);
  if (!match) return undefined;
  const minute = Number(match[1]) * 60 + Number(match[2]);
  return minute <= 24 * 60 ? minute : undefined;
}

const knownZones = new Map<string, boolean>();

/** Whether the runtime knows an IANA zone (remembered: building a formatter costs as much as a sweep's group). */
function isTimeZone(zone: string): boolean {
  let known = knownZones.get(zone);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      known = true;
    } catch {
      known = false;
    }
    knownZones.set(zone, known);
  }
  return known;
}

/** Parses "<days> <HH:MM>-<HH:MM> <IANA zone>"; undefined when any part is not valid. */
export function parseMaintenanceWindow(text: string): MaintenanceWindow | undefined {
  const match = /^\s*(\S+)\s+(\d{2}:\d{2})-(\d{2}:\d{2})\s+(\S+)\s*$/.exec(text);
  if (!match) return undefined;
  const [, dayText, startText, endText, timeZone] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const days = parseDays(dayText);
  const startMinute = parseMinute(startText);
  const endMinute = parseMinute(endText);
  if (
    !days ||
    startMinute === undefined ||
    endMinute === undefined ||
    startMinute === endMinute ||
    !isTimeZone(timeZone)
  ) {
    return undefined;
  }
  return { days, startMinute, endMinute, timeZone, text: text.trim() };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

// Windows are minute-grained, so a zone's local time is the same for every instant of a UTC minute: a sweep
// asks for the same minute once per group (thousands of groups), and nextOpening walks minutes forward.
const localMinutes = new Map<string, { day: number; minute: number }>();

/** Local weekday (0 = Sunday) and minute of the day of an instant in a zone. */
export function localTime(at: Date, timeZone: string): { day: number; minute: number } {
  const key = `${timeZone}|${Math.floor(at.getTime() / 60_000)}`;
  let local = localMinutes.get(key);
  if (!local) {
    if (localMinutes.size >= 100_000) localMinutes.clear();
    local = formatLocalTime(at, timeZone);
    localMinutes.set(key, local);
  }
  return local;
}

function formatLocalTime(at: Date, timeZone: string): { day: number; minute: number } {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(at).map((part) => [part.type, part.value]));
  return {
    day: DAYS.indexOf(parts.weekday as (typeof DAYS)[number]),
    minute: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** Whether the window is open at an instant. */
export function isWindowOpen(window: MaintenanceWindow, at: Date): boolean {
  const { day, minute } = localTime(at, window.timeZone);
  if (window.startMinute < window.endMinute) {
    return window.days.has(day) && minute >= window.startMinute && minute < window.endMinute;
  }
  // Past midnight: open late on a window day, or early on the day after one.
  return (
    (window.days.has(day) && minute >= window.startMinute) ||
    (window.days.has((day + 6) % 7) && minute < window.endMinute)
  );
}

/** The next instant (to the minute, within 8 days) at which the window is open; `at` itself if it is. */
export function nextOpening(window: MaintenanceWindow, at: Date): Date | undefined {
  const start = Math.floor(at.getTime() / 60_000) * 60_000;
  // Groups share windows: the walk below is done once per window and minute.
  const key = `${window.text}|${start}`;
  if (openings.has(key)) {
    const found = openings.get(key);
    return found === start ? at : found === undefined ? undefined : new Date(found);
  }
  if (openings.size >= 10_000) openings.clear();
  const found = walkToOpening(window, at, start);
  openings.set(key, found === undefined ? undefined : found === at ? start : found.getTime());
  return found;
}

const openings = new Map<string, number | undefined>();

function walkToOpening(window: MaintenanceWindow, at: Date, start: number): Date | undefined {
  for (let minute = 0; minute <= 8 * 24 * 60; minute++) {
    const candidate = new Date(start + minute * 60_000);
    if (isWindowOpen(window, candidate)) return minute === 0 ? at : candidate;
  }
  return undefined;
}
