// The age sweep's budgets, table-driven with a fixed clock (Monday 2026-11-23 09:00 UTC).
import { describe, expect, it } from "vitest";
import { parseRateBudget } from "../../functions/engine/durations";
import {
  ageHistogram,
  ageStats,
  bucketEdges,
  collectAges,
  percentile,
} from "../../functions/engine/fleet-ages";
import {
  planSweep,
  type SweepGroupInput,
  type SweepSettings,
  sweepReason,
} from "../../functions/engine/sweep";
import { parseMaintenanceWindow } from "../../functions/engine/windows";
import { group, instance, NEW_IMAGE, NOW, OLD_IMAGE } from "../fixtures";

const D = 24;
const settings: SweepSettings = {
  defaultMaxAgeSeconds: 14 * 86_400,
  defaultRateBudget: parseRateBudget("10/1h") as NonNullable<ReturnType<typeof parseRateBudget>>,
  minAgeSeconds: 3600,
  deadlineGraceSeconds: 3 * 86_400,
  maxConcurrentGroups: 3,
};

/** A managed group named `name` whose instances have the given ages in hours (all on OLD_IMAGE). */
const fleetGroup = (
  name: string,
  agesHours: number[],
  tags: Record<string, string> = {},
  extra: Partial<SweepGroupInput> = {},
): SweepGroupInput => ({
  group: {
    ...group(agesHours.length),
    groupName: name,
    tags: { "phoenix:managed": "true", ...tags },
    instances: agesHours.map((ageHours, index) => instance(index + 1 + name.length * 100, { ageHours })),
  },
  currentImageId: OLD_IMAGE,
  replacing: false,
  budgetUsed: 0,
  ...extra,
});

const decision = (plan: ReturnType<typeof planSweep>, name: string) =>
  plan.decisions.find((item) => item.groupName === name);

describe("which instances are due", () => {
  it("replaces instances over their group's max age, oldest first; younger ones stay", () => {
    const plan = planSweep(
      [fleetGroup("web", [10 * D, 3 * D, 20 * D, 8 * D], { "phoenix:max-age": "7d" })],
      settings,
      NOW,
    );
    const web = decision(plan, "web");
    expect(web?.action).toBe("replace");
    expect(web?.instances.map((item) => Math.round(item.ageSeconds / 86_400))).toEqual([20, 10, 8]);
    expect(web?.instances.every((item) => item.reasons.includes("max-age"))).toBe(true);
  });

  it("uses the stack default without a tag", () => {
    const plan = planSweep([fleetGroup("web", [13 * D, 15 * D])], settings, NOW);
    expect(decision(plan, "web")?.instances).toHaveLength(1);
  });

  it("replaces drifted instances (not on the group's current image) whatever their age, but never one younger than the minimum age", () => {
    const input = fleetGroup("api", [2, 30, 0.5]);
    input.group.instances = input.group.instances.map((item) => ({ ...item, imageId: NEW_IMAGE }));
    input.currentImageId = OLD_IMAGE;
    const api = decision(planSweep([input], settings, NOW), "api");
    expect(api?.instances.map((item) => Math.round(item.ageSeconds / 3600))).toEqual([30, 2]);
    expect(api?.instances.every((item) => item.reasons.includes("drift"))).toBe(true);
    expect(sweepReason(api?.instances ?? [])).toBe("drift");
  });

  it("never touches quarantined instances or instances that are not in service", () => {
    const input = fleetGroup("web", [20 * D, 20 * D, 20 * D]);
    input.group.instances[0] = {
      ...(input.group.instances[0] as (typeof input.group.instances)[0]),
      tags: { "phoenix:quarantined": "case-1" },
    };
    input.group.instances[1] = {
      ...(input.group.instances[1] as (typeof input.group.instances)[0]),
      lifecycleState: "Pending",
    };
    expect(decision(planSweep([input], settings, NOW), "web")?.instances).toHaveLength(1);
  });
});

describe("budgets fail closed", () => {
  it.each([
    // used, budget, expected to replace now
    [0, "4/1h", 4],
    [3, "4/1h", 1],
    [4, "4/1h", 0],
    [9, "4/1h", 0],
  ])("with %i used of %s, %i may go", (used, budget, expected) => {
    const plan = planSweep(
      [
        fleetGroup(
          "web",
          [20 * D, 19 * D, 18 * D, 17 * D, 16 * D, 15 * D],
          { "phoenix:rate-budget": budget },
          { budgetUsed: used },
        ),
      ],
      settings,
      NOW,
    );
    const web = decision(plan, "web");
    expect(web?.instances).toHaveLength(expected);
    expect(web?.action).toBe(expected > 0 ? "replace" : "skip");
    if (expected === 0) expect(web?.why).toMatch(/rate budget 4\/1h used up/);
  });

  it("skips a group whose replacement is already running", () => {
    const plan = planSweep([fleetGroup("web", [20 * D], {}, { replacing: true })], settings, NOW);
    expect(decision(plan, "web")).toMatchObject({
      action: "skip",
      why: "a replacement of this group is already running",
    });
  });

  it("at most N groups at once fleet-wide, running ones included; the oldest due instance goes first", () => {
    const inputs = [
      fleetGroup("a", [16 * D]),
      fleetGroup("b", [30 * D]),
      fleetGroup("c", [20 * D]),
      fleetGroup("d", [25 * D], {}, { replacing: true }),
    ];
    const plan = planSweep(inputs, { ...settings, maxConcurrentGroups: 3 }, NOW);
    expect(plan.runningGroups).toBe(1);
    expect(plan.decisions.filter((item) => item.action === "replace").map((item) => item.groupName)).toEqual([
      "b",
      "c",
    ]);
    expect(decision(plan, "a")).toMatchObject({
      action: "skip",
      why: "fleet budget: at most 3 groups replacing at once",
    });
    expect(decision(plan, "a")?.deferred).toHaveLength(1);
  });

  it("holds due instances outside the window, but not overdue ones (max age + grace); names the next opening", () => {
    const weekend = { "phoenix:max-age": "7d", "phoenix:maintenance-window": "Sat,Sun 02:00-06:00 UTC" };
    const plan = planSweep(
      [fleetGroup("batch", [8 * D, 11 * D]), fleetGroup("cold", [8 * D], weekend)].map((input, index) =>
        index === 0
          ? { ...input, group: { ...input.group, tags: { ...input.group.tags, ...weekend } } }
          : input,
      ),
      settings,
      NOW,
    );
    const batch = decision(plan, "batch");
    expect(batch?.action).toBe("replace");
    expect(batch?.instances.map((item) => item.overdue)).toEqual([true]);
    expect(batch?.deferred).toHaveLength(1);
    expect(decision(plan, "cold")).toMatchObject({
      action: "skip",
      why: "outside its maintenance window (opens 2026-11-28T02:00:00.000Z)",
    });
  });

  it("the window is open on the stack default during its hours", () => {
    const window = parseMaintenanceWindow("Mon-Fri 08:00-10:00 UTC");
    const plan = planSweep([fleetGroup("web", [20 * D])], { ...settings, defaultWindow: window }, NOW);
    expect(decision(plan, "web")?.action).toBe("replace");
  });

  it.each([
    [{ "phoenix:max-age": "a week" }, /phoenix:max-age: "a week"/],
    [{ "phoenix:rate-budget": "lots" }, /phoenix:rate-budget: "lots"/],
    [{ "phoenix:maintenance-window": "nights" }, /phoenix:maintenance-window: "nights"/],
    [{ "phoenix:policy": "{canary" }, /phoenix:policy: is not JSON/],
    [{ "phoenix:policy": '{"maxSurgePercent":150}' }, /phoenix:policy: maxSurgePercent: .*100/],
  ])("skips a group with a malformed tag %o rather than guess, and replaces the others", (tags, message) => {
    const plan = planSweep(
      [fleetGroup("web", [20 * D], tags), fleetGroup("api", [21 * D]), fleetGroup("batch", [22 * D])],
      settings,
      NOW,
    );
    expect(decision(plan, "web")?.action).toBe("skip");
    expect(decision(plan, "web")?.why).toMatch(message);
    expect(decision(plan, "web")?.invalidTag?.tag).toBe(Object.keys(tags)[0]);
    expect(decision(plan, "api")?.action).toBe("replace");
    expect(decision(plan, "batch")?.action).toBe("replace");
  });

  it("ignores groups that are not managed", () => {
    const input = fleetGroup("legacy", [300 * D]);
    input.group.tags = {};
    expect(planSweep([input], settings, NOW).decisions).toEqual([]);
  });
});

describe("fleet ages", () => {
  it("percentiles by nearest rank", () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect([
      percentile(values, 50),
      percentile(values, 95),
      percentile(values, 100),
      percentile([], 50),
    ]).toEqual([5, 10, 10, 0]);
  });

  it("counts instances over their maximum and drifted ones", () => {
    const drifted = fleetGroup("api", [2, 50], { "phoenix:max-age": "36h" });
    drifted.group.instances[0] = {
      ...(drifted.group.instances[0] as (typeof drifted.group.instances)[0]),
      imageId: NEW_IMAGE,
    };
    const ages = collectAges(
      [fleetGroup("web", [10 * D, 20 * D], { "phoenix:max-age": "14d" }), drifted],
      settings,
      NOW,
    );
    expect(ageStats(ages)).toEqual({
      instances: 4,
      maxAgeSeconds: 20 * 86_400,
      p50AgeSeconds: 50 * 3600,
      p95AgeSeconds: 20 * 86_400,
      overMax: 2,
      drifted: 1,
    });
  });

  it("buckets fit the data and every instance lands in exactly one, counted per group", () => {
    const ages = collectAges(
      [fleetGroup("web", [1, 30, 200, 400]), fleetGroup("api", [5, 600])],
      settings,
      NOW,
    );
    const histogram = ageHistogram(ages);
    expect(histogram.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(6);
    expect(histogram.at(-1)?.toSeconds).toBeUndefined();
    // Contiguous buckets from zero, on the edges that fit these ages (1 h to 25 d).
    expect(histogram[0]?.fromSeconds).toBe(0);
    for (const [index, bucket] of histogram.slice(0, -1).entries()) {
      expect(bucket.toSeconds).toBe(histogram[index + 1]?.fromSeconds);
    }
    expect(histogram.map((bucket) => bucket.fromSeconds)).toEqual(
      bucketEdges(ages.map((item) => item.ageSeconds)),
    );
    expect(histogram.length).toBeLessThanOrEqual(10);
    expect(histogram.reduce((sum, bucket) => sum + (bucket.byGroup.api ?? 0), 0)).toBe(2);
    // 400 h and 600 h (16.7 and 25 days) are over the 14-day default.
    expect(histogram.reduce((sum, bucket) => sum + bucket.overMax, 0)).toBe(2);
  });
});
