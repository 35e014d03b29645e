// Durations, rate budgets and maintenance windows: table-driven with fixed instants, including the nights
// clocks change.
import { describe, expect, it } from "vitest";
import { formatAge, parseDuration, parseRateBudget } from "../../functions/engine/durations";
import { isWindowOpen, nextOpening, parseMaintenanceWindow } from "../../functions/engine/windows";

describe("durations", () => {
  it.each([
    ["7d", 604_800],
    ["36h", 129_600],
    ["90m", 5_400],
    ["1d12h", 129_600],
    ["2w", 1_209_600],
    ["45s", 45],
  ])("%s is %i seconds", (text, seconds) => expect(parseDuration(text)).toBe(seconds));

  it.each(["", "7", "d7", "7 days", "-1d", "0d", "1.5h", "7x"])("rejects %j", (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );

  it("formats ages the way tags are written", () => {
    expect([30, 600, 7_200, 86_400, 9 * 86_400 + 4 * 3_600].map(formatAge)).toEqual([
      "30s",
      "10m",
      "2h",
      "1d",
      "9d 4h",
    ]);
  });

  it.each([
    ["4/1h", { count: 4, windowSeconds: 3600 }],
    ["10/1d", { count: 10, windowSeconds: 86_400 }],
  ])("rate budget %s", (text, expected) => expect(parseRateBudget(text)).toMatchObject(expected));

  it.each(["4", "0/1h", "x/1h", "4/", "4/soon", "4/1h/2"])("rejects rate budget %j", (text) =>
    expect(parseRateBudget(text)).toBeUndefined(),
  );
});

describe("maintenance windows", () => {
  const at = (iso: string) => new Date(iso);

  it.each([
    // window, instant (UTC), open?
    ["Mon-Fri 02:00-05:00 Europe/Berlin", "2026-11-23T01:30:00Z", true], // Monday 02:30 CET
    ["Mon-Fri 02:00-05:00 Europe/Berlin", "2026-11-23T04:00:00Z", false], // Monday 05:00 CET: end is exclusive
    ["Mon-Fri 02:00-05:00 Europe/Berlin", "2026-11-22T01:30:00Z", false], // Sunday
    ["Fri-Mon 02:00-05:00 UTC", "2026-11-22T03:00:00Z", true], // Sunday, inside a wrapping day range
    ["daily 22:00-04:00 America/New_York", "2026-11-24T03:30:00Z", true], // Monday 22:30 EST
    ["daily 22:00-04:00 America/New_York", "2026-11-24T08:30:00Z", true], // Tuesday 03:30 EST, past midnight
    ["daily 22:00-04:00 America/New_York", "2026-11-24T10:00:00Z", false], // Tuesday 05:00 EST
    ["Sat 22:00-02:00 UTC", "2026-11-29T01:00:00Z", true], // Sunday 01:00 belongs to Saturday's window
    ["Sat 22:00-02:00 UTC", "2026-11-30T01:00:00Z", false], // Monday 01:00 does not
  ])("%s at %s is open: %s", (text, instant, open) => {
    const window = parseMaintenanceWindow(text);
    expect(window, text).toBeDefined();
    expect(isWindowOpen(window as NonNullable<typeof window>, at(instant))).toBe(open);
  });

  it("follows daylight saving time: Sunday 02:00-03:00 Berlin does not exist on the spring-forward night", () => {
    const window = parseMaintenanceWindow("Sun 02:00-03:00 Europe/Berlin") as NonNullable<
      ReturnType<typeof parseMaintenanceWindow>
    >;
    // 2026-03-29: at 01:00 UTC the clocks go from 02:00 CET straight to 03:00 CEST.
    for (const instant of [
      "2026-03-29T00:30:00Z",
      "2026-03-29T00:59:00Z",
      "2026-03-29T01:00:00Z",
      "2026-03-29T01:30:00Z",
    ]) {
      expect(isWindowOpen(window, at(instant)), instant).toBe(false);
    }
    // So the next opening is a week later, at 02:00 CEST (00:00 UTC).
    expect(nextOpening(window, at("2026-03-29T00:30:00Z"))?.toISOString()).toBe("2026-04-05T00:00:00.000Z");
    // A week before, in winter time, 02:00 CET is 01:00 UTC.
    expect(isWindowOpen(window, at("2026-03-22T01:15:00Z"))).toBe(true);
  });

  it("follows daylight saving time: the repeated hour on the fall-back night is in the window twice", () => {
    const window = parseMaintenanceWindow("Sun 02:00-03:00 Europe/Berlin") as NonNullable<
      ReturnType<typeof parseMaintenanceWindow>
    >;
    // 2026-10-25: 02:00-03:00 local happens first in CEST (00:00-01:00 UTC), then again in CET (01:00-02:00 UTC).
    expect(isWindowOpen(window, at("2026-10-25T00:30:00Z"))).toBe(true);
    expect(isWindowOpen(window, at("2026-10-25T01:30:00Z"))).toBe(true);
    expect(isWindowOpen(window, at("2026-10-25T02:00:00Z"))).toBe(false);
  });

  it("keeps a window's local hours across the change in New York", () => {
    const window = parseMaintenanceWindow("daily 01:00-02:00 America/New_York") as NonNullable<
      ReturnType<typeof parseMaintenanceWindow>
    >;
    expect(isWindowOpen(window, at("2026-03-07T06:30:00Z"))).toBe(true); // EST: 01:30 = 06:30 UTC
    expect(isWindowOpen(window, at("2026-03-09T05:30:00Z"))).toBe(true); // EDT: 01:30 = 05:30 UTC
    expect(isWindowOpen(window, at("2026-03-09T06:30:00Z"))).toBe(false);
  });

  it.each([
    "weekdays 02:00-05:00 UTC",
    "Mon 2:00-5:00 UTC",
    "Mon 02:00-02:00 UTC",
    "Mon 02:00-05:00 Mars/Olympus",
    "Mon 02:00-25:00 UTC",
    "02:00-05:00 UTC",
  ])("rejects %j", (text) => expect(parseMaintenanceWindow(text)).toBeUndefined());
});
