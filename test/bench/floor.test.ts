// The honest floor (bench/floor.ts): small cases worked by hand, a floor no engine on the simulator beats,
// and teeth: a Phoenix made slower on purpose scores a worse ratio against the same floor.
import { describe, expect, it } from "vitest";
import { type FloorModel, launchToReadySeconds, slotRefillingFloor } from "../../bench/floor";
import {
  capacityOf,
  fleet,
  floorOf,
  POLICIES,
  rotateInstanceRefresh,
  rotatePhoenix,
  tunedRefresh,
} from "../../bench/makespan";
import type { LaunchDraw } from "../../local/sim/launch-draws";

/** A draw with no reaction beyond the fastest, 5 s API, 18 s pending and a boot of `bootSeconds` (of 10-40). */
const draw = (bootSeconds = 19, activitySeconds = 0): LaunchDraw => ({
  activitySeconds,
  launchApiSeconds: 5,
  pendingToRunningSeconds: 18,
  bootFraction: (bootSeconds - 10) / 30,
});

const model = (overrides: Partial<FloorModel>): FloorModel => ({
  desired: 3,
  replace: 3,
  floor: 3,
  surge: 1,
  reactSeconds: 5,
  healthCheckIntervalSeconds: 5,
  healthyThresholdCount: 2,
  deregistrationDelaySeconds: 30,
  bootSeconds: [10, 40],
  launchBucket: { burst: 1000, refillPerSecond: 2 },
  ...overrides,
});

describe("the slot-refilling floor", () => {
  it("times one instance: the rest of the reaction, launch, then checks from running until two pass after boot", () => {
    // 5 + 18 = 23 s to running; boot 19 s: checks at 5, 10, 15, 20 (first pass), 25 (second): healthy 48 s in.
    expect(launchToReadySeconds(draw(19), model({}))).toBeCloseTo(48, 9);
    // Boot 21 s: the first passing check is at 25 s, healthy at 30: 53 s; 2 s more reaction: 55 s.
    expect(launchToReadySeconds(draw(21, 2), model({}))).toBeCloseTo(55, 9);
  });

  it("refills one slot at a time without surge: each launch 5 s after the one before is ready", () => {
    // D 3, floor 2, no surge: one slot. Launch 1 acted on at 5 s, ready 53; launch 2 at 58, ready 106; launch 3
    // at 111, ready 159. The old ones leave at 0, 53 and 106; the last drains until 136, before 159.
    const floor = slotRefillingFloor(model({ floor: 2, surge: 0 }), [draw(), draw(), draw()]);
    expect(floor.slots).toBe(1);
    expect(floor.actedAt).toEqual([5, 58, 111]);
    expect(floor.readyAt.map((at) => Math.round(at))).toEqual([53, 106, 159]);
    expect(floor.seconds).toBeCloseTo(159, 9);
  });

  it("refills a slot the moment its own instance is ready, not the slowest of a wave", () => {
    // Two slots; launch 1 is slow (boot 40 s: ready 5 + 23 + 45 = 73), launch 2 fast (boot 10: 5 + 23 + 15 = 43).
    // Launch 3 takes the slot freed at 43 (acted on at 48), not the one freed at 73.
    const floor = slotRefillingFloor(model({ surge: 2 }), [draw(40), draw(10), draw(10)]);
    expect(floor.actedAt).toEqual([5, 5, 48]);
    // The last old instance leaves when the third new one is ready (48 + 38 = 86) and drains until 116.
    expect(floor.lastReadySeconds).toBeCloseTo(86, 9);
    expect(floor.seconds).toBeCloseTo(116, 9);
  });

  it("counts draining only where it is on the critical path", () => {
    // With surge every old instance leaves after a new one is ready: the last drain ends the rotation.
    const surge = slotRefillingFloor(model({ surge: 3 }), [draw(), draw(), draw()]);
    expect(surge.seconds).toBeCloseTo(48 + 5 + 30, 9);
    // Without surge the old ones leave first and drain while the new ones boot: draining is off the path.
    const noSurge = slotRefillingFloor(model({ floor: 0, surge: 0 }), [draw(), draw(), draw()]);
    expect(noSurge.seconds).toBeCloseTo(53, 9);
  });

  it("holds launches to EC2's instance bucket", () => {
    // A bucket of 1 refilled at 1 per 10 s: the second launch waits until 10 s, the third until 20 s.
    const floor = slotRefillingFloor(model({ surge: 3, launchBucket: { burst: 1, refillPerSecond: 0.1 } }), [
      draw(),
      draw(),
      draw(),
    ]);
    expect(floor.actedAt).toEqual([5, 10, 20]);
  });

  it("refuses a policy with no slot", () => {
    expect(() => slotRefillingFloor(model({ surge: 0 }), [draw(), draw(), draw()])).toThrow(/no slot/);
  });
});

describe("the floor on the simulator", () => {
  it("is beaten by no engine: Phoenix and Instance Refresh, two seeds, every policy", async () => {
    for (const seed of [1, 2]) {
      for (const policy of POLICIES) {
        const scenario = fleet(10, seed);
        const floor = floorOf(scenario, capacityOf(10, policy)).seconds;
        const phoenix = (await rotatePhoenix(scenario, policy)).makespanSeconds;
        const refresh = (await rotateInstanceRefresh(scenario, tunedRefresh(scenario, policy, 0)))
          .makespanSeconds;
        expect(phoenix).toBeGreaterThanOrEqual(floor);
        expect(refresh).toBeGreaterThanOrEqual(floor - 0.001);
      }
    }
  }, 180_000);

  it("has teeth: a Phoenix holding each launch 20 s longer scores a worse ratio against the same floor", async () => {
    const scenario = fleet(10, 3);
    const policy = POLICIES[0] as (typeof POLICIES)[number];
    const floor = floorOf(scenario, capacityOf(10, policy)).seconds;
    const normal = (await rotatePhoenix(scenario, policy)).makespanSeconds;
    const held = (await rotatePhoenix(scenario, policy, { holdLaunchSeconds: 20 })).makespanSeconds;
    // The floor comes from the scenario alone, so it is the same for both runs.
    expect(floorOf(scenario, capacityOf(10, policy)).seconds).toBe(floor);
    expect(held / floor).toBeGreaterThan(normal / floor + 0.1);
  }, 120_000);
});
