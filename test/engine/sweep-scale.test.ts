// The sweep at a fleet's scale: a million instances plan without a crash (spreading a fleet's ages into
// Math.max overflowed the stack between 120,000 and 130,000 instances), and the figures the sweep publishes
// without an object per instance are the same as those computed instance by instance.
import { describe, expect, it } from "vitest";
import { parseRateBudget } from "../../functions/engine/durations";
import {
  ageHistogram,
  ageStats,
  bucketEdges,
  collectAges,
  fleetAgeStats,
  percentile,
} from "../../functions/engine/fleet-ages";
import { planSweep, type SweepGroupInput, type SweepSettings } from "../../functions/engine/sweep";
import { parseMaintenanceWindow } from "../../functions/engine/windows";
import { group, instance, NEW_IMAGE, NOW, OLD_IMAGE } from "../fixtures";

const settings: SweepSettings = {
  defaultMaxAgeSeconds: 14 * 86_400,
  defaultRateBudget: parseRateBudget("10/1h") as NonNullable<ReturnType<typeof parseRateBudget>>,
  minAgeSeconds: 3600,
  deadlineGraceSeconds: 3 * 86_400,
  maxConcurrentGroups: 3,
};

/** `groups` managed groups of `perGroup` plain instance objects (shared per group: only their number matters). */
function syntheticFleet(
  groups: number,
  perGroup: number,
  ageHours: (index: number) => number,
): SweepGroupInput[] {
  return Array.from({ length: groups }, (_, index) => {
    const member = instance(index + 1, { ageHours: ageHours(index) });
    return {
      group: {
        ...group(0),
        groupName: `svc-${index}`,
        tags: { "phoenix:managed": "true" },
        instances: new Array(perGroup).fill(member),
      },
      currentImageId: index % 2 === 0 ? OLD_IMAGE : NEW_IMAGE,
      replacing: false,
      budgetUsed: 0,
    };
  });
}

describe("a sweep over a million instances", () => {
  // One group in 40 is past its maximum age (40 days), the rest 5 days old.
  const fleet = syntheticFleet(1000, 1000, (index) => 24 * (index % 40 === 0 ? 40 : 5));

  it("plans and computes the fleet's age figures without overflowing the stack", () => {
    const plan = planSweep(fleet, settings, NOW);
    expect(plan.decisions).toHaveLength(1000);
    expect(plan.instancesToReplace).toBe(30);
    const stats = fleetAgeStats(fleet, settings, NOW);
    expect(stats).toMatchObject({ instances: 1_000_000, maxAgeSeconds: 40 * 86_400 });
    expect(stats.overMax).toBe(25 * 1000);
  });

  it("sorts, buckets and summarises a million ages and aged instances", () => {
    const ages = Array.from({ length: 1_000_000 }, (_, index) => index);
    expect(percentile(ages, 95)).toBe(949_999);
    expect(bucketEdges(ages).at(-1)).toBeLessThanOrEqual(999_999);
    const aged = collectAges(fleet.slice(0, 2), settings, NOW)[0];
    const many = new Array(1_000_000).fill(aged);
    expect(ageStats(many).instances).toBe(1_000_000);
    expect(ageHistogram(many).reduce((sum, bucket) => sum + bucket.count, 0)).toBe(1_000_000);
  });
});

describe("the sweep's published figures", () => {
  it("are the same computed per instance or in one pass", () => {
    const window = parseMaintenanceWindow("Mon-Fri 02:00-05:00 Europe/Berlin");
    const fleet: SweepGroupInput[] = Array.from({ length: 30 }, (_, index) => ({
      group: {
        ...group(0),
        groupName: `svc-${index}`,
        tags: {
          "phoenix:managed": "true",
          ...(index % 3 === 0 ? { "phoenix:max-age": "2d" } : {}),
          ...(index % 7 === 0 ? { "phoenix:max-age": "not a duration" } : {}),
        },
        instances: Array.from({ length: 7 }, (_, n) =>
          instance(index * 10 + n + 1, {
            ageHours: ((index * 7 + n) * 37) % 900,
            ...(n === 3 ? { imageId: NEW_IMAGE } : {}),
            ...(n === 5 ? { lifecycleState: "Terminating" } : {}),
            ...(n === 6 ? { tags: { "phoenix:quarantined": "IR-1" } } : {}),
          }),
        ),
      },
      currentImageId: OLD_IMAGE,
      replacing: false,
      budgetUsed: 0,
    }));
    const withWindow = { ...settings, defaultWindow: window };
    expect(fleetAgeStats(fleet, withWindow, NOW)).toEqual(ageStats(collectAges(fleet, withWindow, NOW)));
  });
});
