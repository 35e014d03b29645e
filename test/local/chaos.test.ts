// The fault-injection campaign (npm run chaos) at a fixed seed, and proof that its invariant monitor catches
// each kind of broken promise when Phoenix is made to break it.
import { describe, expect, it } from "vitest";
import { acquireGroupLock } from "../../functions/aws/lock";
import { runCampaign, runChaos } from "../../local/chaos/campaign";
import { drawRun, FAULT_KINDS, runSeed } from "../../local/chaos/generate";
import { InvariantMonitor } from "../../local/chaos/invariants";
import { loadScenario } from "../../local/scenario";
import { runScenario } from "../../local/scenario-run";
import { Simulation } from "../../local/simulation";

describe("the fixed-seed campaign", () => {
  it("30 runs with every kind of fault keep every invariant", async () => {
    const campaign = await runCampaign(7, 30);
    const violations = campaign.runs.flatMap((run) =>
      run.violations.map((violation) => `run ${run.seed}: ${violation.invariant}: ${violation.detail}`),
    );
    expect(violations).toEqual([]);
    // Not a campaign of quiet runs: every fault kind acted, and executions both completed and rolled back.
    const injected = new Set(campaign.runs.flatMap((run) => Object.keys(run.injected)));
    expect([...injected].sort()).toEqual([...FAULT_KINDS].sort());
    const results = campaign.runs.flatMap((run) => run.executions.map((execution) => execution.result));
    expect(results).toContain("completed");
    expect(results).toContain("rolled back");
    expect(results).toContain("skipped");
  });

  it("draws the same run from the same seed, so any violation replays", () => {
    expect(drawRun(runSeed(7, 3))).toEqual(drawRun(runSeed(7, 3)));
    expect(runSeed(7, 3)).not.toBe(runSeed(7, 4));
  });

  it("replays a run to the same result", async () => {
    const seed = runSeed(7, 5);
    const first = await runChaos(drawRun(seed));
    const second = await runChaos(drawRun(seed));
    const { wallMilliseconds: _a, ...one } = first;
    const { wallMilliseconds: _b, ...two } = second;
    expect(two).toEqual(one);
  });
});

/** Runs the default scenario with a monitor and `sabotage` wrapped around every Task. */
async function sabotaged(
  sabotage: (
    sim: Simulation,
    task: { functionKey: string; input: unknown },
    call: () => Promise<unknown>,
  ) => Promise<unknown>,
  scenarioName = "default",
) {
  const scenario = loadScenario(scenarioName);
  const sim = await Simulation.fromScenario(scenario);
  const monitor = new InvariantMonitor(sim);
  sim.interceptTask = (task, call) => monitor.intercept(task, () => sabotage(sim, task, call));
  await runScenario(scenario, () => {}, sim);
  await monitor.finish();
  await sim.close();
  return monitor.violations.map((violation) => violation.invariant);
}

describe("the monitor catches a Phoenix that breaks its promises", () => {
  it("terminating an instance no plan named", async () => {
    const scenario = loadScenario("default");
    const sim = await Simulation.fromScenario(scenario);
    const monitor = new InvariantMonitor(sim);
    const members = sim.world.requireGroup("web-prod").instanceIds;
    const [named, unnamed] = [members.slice(0, 2), members[5] as string];
    sim.interceptTask = (task, call) =>
      monitor.intercept(task, async () => {
        const result = await call();
        // Phoenix's own call, as far as the account can tell.
        if (task.functionKey === "retireInstances")
          sim.world.as("phoenix", () =>
            sim.world.terminateFromGroup(sim.world.requireInstance(unnamed), "sabotage"),
          );
        return result;
      });
    await sim.run("replace-group", { ...scenario.run.input, reason: "manual", instanceIds: named });
    await monitor.finish();
    await sim.close();
    expect(monitor.violations).toContainEqual(
      expect.objectContaining({ invariant: "unnamedTermination", detail: expect.stringContaining(unnamed) }),
    );
  });

  it("taking more instances out of service than the floor allows", async () => {
    const invariants = await sabotaged(async (sim, task, call) => {
      if (task.functionKey === "retireInstances") {
        const group = sim.world.requireGroup("web-prod");
        const [arn] = group.targetGroupArns;
        for (const id of group.instanceIds.slice(0, 6))
          sim.world.as("phoenix", () => sim.world.deregisterTarget(arn as string, id));
      }
      return call();
    });
    expect(invariants).toContain("floor");
  });

  it("an execution that changed the group and ended neither completed nor rolled back", async () => {
    const invariants = await sabotaged(async (_sim, task, call) => {
      if (task.functionKey === "restoreGroup")
        throw Object.assign(new Error("sabotage"), { name: "Sabotage" });
      return call();
    }, "bad-image");
    expect(invariants).toContain("ended");
  });

  it("a group left with a process suspended and its lock held", async () => {
    const scenario = loadScenario("default");
    const sim = await Simulation.fromScenario(scenario);
    const monitor = new InvariantMonitor(sim);
    sim.interceptTask = monitor.intercept;
    await runScenario(scenario, () => {}, sim);
    // What a replacement that lost its clean-up and its janitor would leave behind.
    sim.world.requireGroup("web-prod").suspendedProcesses.add("AZRebalance");
    await acquireGroupLock({
      tableName: "phoenix-local",
      groupName: "web-prod",
      owner: "arn:aws:states:us-east-1:123456789012:execution:phoenix-replace-group-local:lost",
      now: new Date(sim.world.clock.now()),
      leaseSeconds: 3600,
    });
    await monitor.finish();
    await sim.close();
    const invariants = monitor.violations.map((violation) => violation.invariant);
    expect(invariants).toContain("restored");
    expect(invariants).toContain("lock");
  });

  it("two replacements of one group at once", async () => {
    const scenario = loadScenario("default");
    const sim = await Simulation.fromScenario(scenario);
    const monitor = new InvariantMonitor(sim);
    // Every acquire succeeds: the lock is gone.
    sim.interceptTask = (task, call) =>
      monitor.intercept(task, async () => {
        if (task.functionKey === "groupLock" && (task.input as { action: string }).action === "acquire")
          return { groupName: "web-prod" };
        return call();
      });
    const input = scenario.run.input as Record<string, unknown>;
    await Promise.all([sim.run("replace-group", input), sim.run("replace-group", input)]);
    await monitor.finish();
    await sim.close();
    expect(monitor.violations.map((violation) => violation.invariant)).toContain("exclusive");
  });
});
