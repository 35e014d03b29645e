// The simulator's launch draws: the n-th instance launched gets the n-th draw of a stream of its own, so a
// benchmark can know every launch's times before the run (bench/floor.ts builds the honest floor on them),
// and Auto Scaling acts on each raise of capacity no sooner than its reaction time.
import { describe, expect, it } from "vitest";
import { scaleScenario } from "../../local/scale";
import { buildWorld } from "../../local/scenario";
import { bootSecondsOf, launchDrawsFor } from "../../local/sim/launch-draws";
import { DEFAULT_TIMING } from "../../local/sim/model";

const at = (world: ReturnType<typeof buildWorld>, kind: string) =>
  new Map(world.log.filter((entry) => entry.kind === kind).map((entry) => [entry.instanceId, entry.at]));

describe("launch draws", () => {
  it("gives the n-th launch the n-th draw, known before the run", () => {
    const scenario = scaleScenario({ instances: 12, seed: 5 });
    const predicted = launchDrawsFor(scenario.seed, { ...DEFAULT_TIMING, ...scenario.timing }, 12);
    const world = buildWorld(scenario);
    const group = world.requireGroup("big0");
    group.maxSize = 24;
    group.launchTemplate.version = "2";
    // Two raises, so launches come from two scaling activities.
    world.setDesired(group, 18, "test");
    world.clock.advanceBy(3_000);
    world.setDesired(group, 24, "test");
    world.clock.advanceBy(300_000);
    const launched = world.log.filter((entry) => entry.kind === "instance-launched");
    const running = at(world, "instance-running");
    expect(launched).toHaveLength(12);
    for (const [index, entry] of launched.entries()) {
      const draw = predicted[index] as (typeof predicted)[number];
      const instance = world.requireInstance(entry.instanceId as string);
      const runningAt = running.get(instance.instanceId) as number;
      expect(runningAt - entry.at).toBeCloseTo(
        (draw.activitySeconds + draw.launchApiSeconds + draw.pendingToRunningSeconds) * 1000,
        2,
      );
      expect((instance.appReadyAt as number) - runningAt).toBeCloseTo(
        bootSecondsOf(draw, [10, 40]) * 1000,
        2,
      );
    }
  });

  it("differs by seed and leaves the world's other stream alone", () => {
    const timing = DEFAULT_TIMING;
    expect(launchDrawsFor(1, timing, 3)).not.toEqual(launchDrawsFor(2, timing, 3));
    expect(launchDrawsFor(1, timing, 3)).toEqual(launchDrawsFor(1, timing, 3));
  });

  it("acts on each raise of capacity no sooner than Auto Scaling's reaction, whatever else happens", () => {
    const world = buildWorld(scaleScenario({ instances: 4 }));
    const group = world.requireGroup("big0");
    group.maxSize = 8;
    const start = world.clock.now();
    world.setDesired(group, 6, "first");
    world.clock.advanceBy(3_000);
    world.setDesired(group, 8, "second");
    // Something else makes the group reconcile right after the second raise (a resumed process does).
    world.scheduleReconcile(group, 0.5);
    world.clock.advanceBy(60_000);
    const launches = world.log
      .filter((entry) => entry.kind === "instance-launched")
      .map((entry) => (entry.at - start) / 1000);
    const [react] = DEFAULT_TIMING.asgReactSeconds;
    // Two for the first raise at 5 s, two for the second at 3 + 5 s: none hurried by the reconcile at 3.5 s.
    expect(launches).toEqual([react, react, 3 + react, 3 + react]);
  });
});
