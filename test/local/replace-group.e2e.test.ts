// End to end on the embedded simulated AWS, through statemachines/replace-group.asl.json and the real
// handlers: what a user of Phoenix cares about, checked at every simulated moment.
import { afterEach, describe, expect, it } from "vitest";
import type { ReplacementPlan } from "../../functions/engine/plan";
import { loadScenario, runInput, type Scenario } from "../../local/scenario";
import type { SimWorld } from "../../local/sim/world";
import { Simulation } from "../../local/simulation";
import type { ExecutionEvent } from "../../local/state-machine";

let simulation: Simulation | undefined;
afterEach(async () => simulation?.close());

/** Runs a scenario (optionally edited) and returns everything a test needs to judge it. */
async function run(
  name: string,
  edit: (scenario: Scenario) => void = () => {},
  setup: (world: SimWorld) => void = () => {},
) {
  const scenario = loadScenario(name);
  edit(scenario);
  simulation = await Simulation.fromScenario(scenario);
  const { world } = simulation;
  const groupName = String(runInput(scenario).groupName);
  const group = world.requireGroup(groupName);
  const before = {
    version: group.launchTemplate.version,
    minSize: group.minSize,
    maxSize: group.maxSize,
    desiredCapacity: group.desiredCapacity,
    suspended: [...group.suspendedProcesses].sort(),
    instanceIds: [...group.instanceIds].sort(),
  };
  setup(world);
  const events: ExecutionEvent[] = [];
  const outcome = await simulation.run("replace-group", runInput(scenario), {
    onEvent: (event) => events.push(event),
  });
  // Let AWS finish what it was asked to do (instances shutting down) before judging.
  world.clock.advanceBy(300_000);
  const planStep = events.find((event) => event.type === "StateExited" && event.stateName === "Plan");
  const plan = (planStep?.output as { plan: ReplacementPlan } | undefined)?.plan as ReplacementPlan;
  const inService = group.instanceIds
    .map((id) => world.requireInstance(id))
    .filter((i) => i.lifecycleState === "InService");
  return {
    scenario,
    world,
    group,
    before,
    outcome,
    plan,
    inService,
    observer: simulation.observer,
    groupName,
  };
}

describe("a new-image replacement on the simulator", () => {
  it("puts every instance on the new image without dropping below the floor or exceeding the surge", async () => {
    const { outcome, group, inService, observer, groupName, plan, world } = await run("default");
    expect(outcome.status).toBe("SUCCEEDED");
    expect(inService).toHaveLength(12);
    expect(new Set(inService.map((i) => i.imageId))).toEqual(new Set(["ami-0c1d2e3f4a5b60002"]));
    expect(group.launchTemplate.version).toBe("2");
    // Floor: 100% of 12 must be healthy and in service at every simulated moment.
    expect(observer.lowestHealthy(groupName)).toBeGreaterThanOrEqual(12);
    expect(observer.peakActive(groupName)).toBeLessThanOrEqual(12 + plan.capacity.surge);
    // Sizes and processes are back to how they were; the new version stays.
    expect({ min: group.minSize, max: group.maxSize, desired: group.desiredCapacity }).toEqual({
      min: 12,
      max: 12,
      desired: 12,
    });
    expect(group.suspendedProcesses.size).toBe(0);
    const completed = world.events.find((event) => event.detailType === "Replacement Completed");
    expect(completed?.detail).toMatchObject({
      groupName,
      instancesReplaced: 12,
      waves: 3,
      target: { version: "2" },
    });
  });

  it("terminates only instances the plan named, and only after their traffic drained", async () => {
    const { outcome, observer, before, plan } = await run("default");
    expect(outcome.status).toBe("SUCCEEDED");
    const named = new Set<string>(plan.waves.flatMap((wave) => wave.instanceIds));
    expect(named).toEqual(new Set(before.instanceIds));
    expect(observer.terminations.map((t) => t.instanceId).sort()).toEqual([...named].sort());
    for (const termination of observer.terminations) {
      expect(termination.deregisteredAt, termination.instanceId).toBeDefined();
      expect(termination.drainedAt, termination.instanceId).toBeDefined();
      expect(termination.drainedAt as number).toBeLessThanOrEqual(termination.at);
      // Draining lasted the whole deregistration delay (30 s in this scenario).
      expect(
        (termination.drainedAt as number) - (termination.deregisteredAt as number),
      ).toBeGreaterThanOrEqual(30_000);
    }
  });

  it("keeps the floor when waves must retire instances before launching (no surge, 75% healthy)", async () => {
    const { outcome, observer, groupName, inService, plan } = await run("default", (scenario) => {
      runInput(scenario).policy = {
        maxSurgePercent: 0,
        minHealthyPercent: 75,
        readiness: { pollSeconds: 10 },
      };
    });
    expect(outcome.status).toBe("SUCCEEDED");
    expect(plan.waves.every((wave) => wave.retireFirst.length === 3)).toBe(true);
    expect(observer.lowestHealthy(groupName)).toBe(9);
    expect(observer.peakActive(groupName)).toBeLessThanOrEqual(12);
    expect(inService.every((i) => i.imageId === "ami-0c1d2e3f4a5b60002")).toBe(true);
  });

  it("a dry run returns the plan and makes no mutating call", async () => {
    const { outcome, world, before, group } = await run("default", (scenario) => {
      runInput(scenario).dryRun = true;
    });
    expect(outcome.status).toBe("SUCCEEDED");
    expect(outcome.output).toMatchObject({ groupName: "web-prod", instancesToReplace: 12 });
    expect(simulation?.mutatingCalls()).toEqual([]);
    expect(world.events).toEqual([]);
    expect([...group.instanceIds].sort()).toEqual(before.instanceIds);
  });

  it("refuses an unmanaged group with a named error and changes nothing", async () => {
    const { outcome } = await run("default", (scenario) => {
      (scenario.groups[0] as { tags: Record<string, string> }).tags = { team: "storefront" };
    });
    expect(outcome).toMatchObject({ status: "FAILED", error: "GroupNotManagedError" });
    expect(simulation?.mutatingCalls()).toEqual([]);
  });
});

describe("one replacement per group", () => {
  it("of two starts at once, one replaces the group and the other is skipped, not failed", async () => {
    const scenario = loadScenario("default");
    simulation = await Simulation.fromScenario(scenario);
    const [first, second] = await Promise.all([
      simulation.run("replace-group", runInput(scenario), { executionName: "first" }),
      simulation.run("replace-group", runInput(scenario), { executionName: "second" }),
    ]);
    const isSkipped = (outcome: typeof first) =>
      (outcome.output as { skipped?: boolean } | undefined)?.skipped === true;
    expect([first.status, second.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect([first, second].filter(isSkipped)).toHaveLength(1);
    const winner = [first, second].find((outcome) => !isSkipped(outcome));
    const skipped = [first, second].find(isSkipped);
    expect(winner?.output).toMatchObject({ instancesReplaced: 12 });
    expect(skipped?.output).toMatchObject({ skipped: true, groupName: "web-prod" });
    expect((skipped?.output as { reason?: string } | undefined)?.reason).toMatch(
      /already being replaced by arn:aws:states:.*:(first|second)/,
    );
    // Only the winner changed anything: 12 instances terminated, one Replacement Completed.
    expect(
      simulation.world.events.filter((event) => event.detailType === "Replacement Completed"),
    ).toHaveLength(1);
  });

  it("a later start runs once the first has finished and released the lock", async () => {
    const scenario = loadScenario("default");
    simulation = await Simulation.fromScenario(scenario);
    const first = await simulation.run("replace-group", runInput(scenario));
    const second = await simulation.run("replace-group", {
      ...runInput(scenario),
      reason: "manual",
      policy: { maxSurgePercent: 100 },
    });
    expect(first.status).toBe("SUCCEEDED");
    expect(second.status).toBe("SUCCEEDED");
    expect(second.output).toMatchObject({ instancesReplaced: 12, waves: 1 });
  });
});

describe("a replacement stopped from outside", () => {
  it("is undone by the janitor: version, processes and sizes back, lock released, the next one starts at once", async () => {
    const scenario = loadScenario("default");
    simulation = await Simulation.fromScenario(scenario);
    const sim = simulation;
    const { world } = sim;
    const group = world.requireGroup("web-prod");
    const before = {
      version: group.launchTemplate.version,
      max: group.maxSize,
      suspended: [...group.suspendedProcesses],
    };
    const stopped = sim.run("replace-group", runInput(scenario), { executionName: "stopped" });
    // An operator stops it mid-wave (StopExecution): none of its own clean-up runs.
    sim.at(90, () => sim.executions.get([...sim.executions.keys()][0] as string)?.stop.abort());
    expect((await stopped).status).toBe("ABORTED");
    await sim.idle();
    const janitor = sim.invocations.filter((invocation) => invocation.functionKey === "reclaimGroup");
    expect(janitor.map((invocation) => invocation.result)).toEqual([
      expect.objectContaining({ reclaimed: true, groupName: "web-prod", status: "ABORTED" }),
    ]);
    expect(group.launchTemplate.version).toBe(before.version);
    expect([...group.suspendedProcesses]).toEqual(before.suspended);
    // Desired capacity is left where the stopped wave put it, and the event says so.
    expect(group.maxSize).toBe(Math.max(before.max, group.desiredCapacity));
    const abandoned = world.events.find((event) => event.detailType === "Replacement Abandoned");
    expect(abandoned?.detail).toMatchObject({ groupName: "web-prod", left: { before: 12 } });
    // No waiting for the lease: the next replacement takes the group straight away.
    const next = await sim.run("replace-group", { ...runInput(scenario), reason: "manual" });
    expect(next.status).toBe("SUCCEEDED");
    expect((next.output as { skipped?: boolean }).skipped).toBeUndefined();
  });

  it("a failed replacement that cleaned up after itself leaves the janitor nothing to do", async () => {
    const scenario = loadScenario("bad-image");
    simulation = await Simulation.fromScenario(scenario);
    const outcome = await simulation.run("replace-group", runInput(scenario));
    await simulation.idle();
    expect(outcome.error).toBe("ReplacementRolledBack");
    const janitor = simulation.invocations.filter((invocation) => invocation.functionKey === "reclaimGroup");
    expect(janitor).toHaveLength(1);
    expect(janitor[0]?.result).toMatchObject({ reclaimed: false });
    expect(simulation.world.events.map((event) => event.detailType)).not.toContain("Replacement Abandoned");
  });
});

describe("rollback", () => {
  it("a bad image rolls back and leaves the group exactly as it was", async () => {
    const { outcome, group, before, inService, world, observer, groupName } = await run("bad-image");
    expect(outcome).toMatchObject({ status: "FAILED", error: "ReplacementRolledBack" });
    expect(outcome.cause).toMatch(/not ready before the readiness timeout/);
    // Exactly as it was: the same version string ($Default, not a number), sizes, processes and instances.
    expect({
      version: group.launchTemplate.version,
      minSize: group.minSize,
      maxSize: group.maxSize,
      desiredCapacity: group.desiredCapacity,
      suspended: [...group.suspendedProcesses].sort(),
      instanceIds: inService.map((i) => i.instanceId).sort(),
    }).toEqual(before);
    expect(observer.lowestHealthy(groupName)).toBeGreaterThanOrEqual(12);
    // No original instance was touched: what was terminated was launched by the rollout (the bad image) or
    // by Auto Scaling meanwhile (replacing an unhealthy one).
    for (const termination of observer.terminations) {
      expect(before.instanceIds).not.toContain(termination.instanceId);
      expect(world.requireInstance(termination.instanceId).launchTime).toBeGreaterThan(
        Date.parse("2026-11-23T09:00:00Z"),
      );
    }
    const rolledBack = world.events.find((event) => event.detailType === "Replacement Rolled Back");
    expect(rolledBack?.detail).toMatchObject({ groupName, error: "WaveFailed" });
  });

  it("an HTTP probe that fails rolls back with the probe's reason", async () => {
    const { outcome, group, before } = await run("default", (scenario) => {
      (scenario.images[1] as { httpStatus: number }).httpStatus = 503;
      runInput(scenario).policy = { maxSurgePercent: 34, probes: { http: { path: "/health", port: 8080 } } };
    });
    expect(outcome).toMatchObject({ status: "FAILED", error: "ReplacementRolledBack" });
    expect(outcome.cause).toMatch(/GET \/health returned 503, expected 200/);
    expect(group.launchTemplate.version).toBe(before.version);
    expect(group.desiredCapacity).toBe(before.desiredCapacity);
  });

  const withAlarm = (scenario: Scenario) => {
    scenario.alarms = [{ name: "web-5xx", state: "OK" }];
    runInput(scenario).policy = { maxSurgePercent: 34, probes: { alarms: ["web-5xx"], bakeSeconds: 120 } };
  };

  it("an alarm that fires during the bake time rolls the wave back", async () => {
    // The first wave is ready after about 80 s and bakes for 120 s: the alarm fires in the middle.
    const { outcome, group, before } = await run("default", withAlarm, (world) => {
      world.clock.schedule(150_000, () =>
        world.alarms.set("web-5xx", { alarmName: "web-5xx", state: "ALARM" }),
      );
    });
    expect(outcome).toMatchObject({ status: "FAILED", error: "ReplacementRolledBack" });
    expect(outcome.cause).toMatch(/alarm web-5xx is ALARM/);
    expect(group.launchTemplate.version).toBe(before.version);
  });

  it("an alarm that stays OK through the bake time lets the rollout complete", async () => {
    const { outcome } = await run("default", withAlarm);
    expect(outcome.status).toBe("SUCCEEDED");
    expect((outcome.output as { durationSeconds: number }).durationSeconds).toBeGreaterThan(3 * 120);
  });
});
