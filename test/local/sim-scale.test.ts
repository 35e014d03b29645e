// The simulator's indexes must say exactly what a scan of the account says: the census of active and serving
// members (which the observer and Auto Scaling read instead of scanning groups) is recounted from scratch at
// every change of every shipped scenario, a chaos run with faults, and an instance refresh.
import { type AutoScalingClient, StartInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
import { afterEach, describe, expect, it } from "vitest";
import { runChaos } from "../../local/chaos/campaign";
import { drawRun, runSeed } from "../../local/chaos/generate";
import { scaleScenario } from "../../local/scale";
import { buildWorld, loadScenario } from "../../local/scenario";
import { runScenario } from "../../local/scenario-run";
import { createSimClients } from "../../local/sim/clients";
import type { SimWorld } from "../../local/sim/world";
import { Simulation } from "../../local/simulation";

let simulation: Simulation | undefined;
afterEach(async () => {
  await simulation?.close();
  simulation = undefined;
});

/**
 * Recounts the census at every change. A drift is recorded rather than thrown (a throw inside the account
 * would reach Phoenix as a failed call, not the test).
 */
function checkAtEveryChange(world: SimWorld): { checks: number; drifts: string[] } {
  const seen = { checks: 0, drifts: [] as string[] };
  world.onChange(() => {
    try {
      world.census.check();
    } catch (error) {
      seen.drifts.push((error as Error).message);
    }
    seen.checks++;
  });
  return seen;
}

describe("the census of active and serving members", () => {
  for (const name of ["default", "bad-image", "quarantine", "age-sweep", "image-waves-halt"]) {
    it(`matches a full recount at every change of the ${name} scenario`, async () => {
      const scenario = loadScenario(name);
      simulation = await Simulation.fromScenario(scenario);
      const seen = checkAtEveryChange(simulation.world);
      const report = await runScenario(scenario, () => {}, simulation);
      expect(report.asExpected).toBe(true);
      expect(seen.drifts).toEqual([]);
      expect(seen.checks).toBeGreaterThan(50);
      for (const group of simulation.world.groups.values())
        expect(simulation.world.servingCount(group.groupName)).toBe(
          simulation.world.healthyInService(group.groupName).length,
        );
    });
  }

  it("matches a full recount through a chaos run (throttling, silent instances, AZ rebalance, quarantine)", async () => {
    const original = Simulation.fromScenario;
    let seen: ReturnType<typeof checkAtEveryChange> | undefined;
    // The campaign builds its own simulation: check the one it builds.
    Simulation.fromScenario = async (scenario) => {
      const sim = await original.call(Simulation, scenario);
      seen = checkAtEveryChange(sim.world);
      return sim;
    };
    try {
      await runChaos(drawRun(runSeed(7, 5)));
    } finally {
      Simulation.fromScenario = original;
    }
    expect(seen?.drifts).toEqual([]);
    expect(seen?.checks).toBeGreaterThan(100);
  });

  it("matches a full recount through an instance refresh that launches first", async () => {
    const world = buildWorld(scaleScenario({ instances: 20 }));
    world.requireGroup("big0").maxSize = 40;
    const seen = checkAtEveryChange(world);
    const client = createSimClients(world).clients.autoScaling as AutoScalingClient;
    await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "big0",
        Preferences: { MinHealthyPercentage: 100, MaxHealthyPercentage: 150, InstanceWarmup: 0 },
      }),
    );
    world.clock.advanceBy(3600_000);
    expect(seen.drifts).toEqual([]);
    expect(world.servingCount("big0")).toBe(20);
  });
});
