// Step Functions Standard fails an execution at 25,000 history events. The local runner counts the events
// each execution would write; a 2,000-instance group at the default policy stays far under, and a policy
// with so many waves that one execution could not hold them is split across executions.
import { describe, expect, it } from "vitest";
import type { ReplacementPlan } from "../../functions/engine/plan";
import { scaleScenario } from "../../local/scale";
import { Simulation } from "../../local/simulation";

describe("execution history budget", () => {
  it("a 2,000-instance group at the default policy stays under 25,000 events, within the plan's bound", async () => {
    const sim = await Simulation.fromScenario(scaleScenario({ instances: 2000 }));
    try {
      let plan: ReplacementPlan | undefined;
      const outcome = await sim.run(
        "replace-group",
        { groupName: "big0", reason: "new-image", targetVersion: "2" },
        {
          onEvent: (event) => {
            if (event.type === "StateExited" && event.stateName === "Plan")
              plan = (event.output as { plan: ReplacementPlan }).plan;
          },
        },
      );
      expect(outcome.status).toBe("SUCCEEDED");
      expect(outcome.output).toMatchObject({ instancesReplaced: 2000, waves: 4 });
      expect(outcome.historyEvents).toBeLessThan(25_000);
      expect(outcome.historyEvents).toBeLessThanOrEqual(plan?.historyEventsAtMost ?? 0);
      expect(plan?.historyEventsAtMost).toBeLessThanOrEqual(20_000);
      expect(plan?.continuation).toBeUndefined();
    } finally {
      await sim.close();
    }
  }, 60_000);

  it("splits 100 waves across executions that each stay within the budget, and replaces every instance", async () => {
    const sim = await Simulation.fromScenario(scaleScenario({ instances: 300 }));
    try {
      // 1% surge on 300 instances: 3 per wave, 100 waves, more than one execution's bounded share.
      const first = await sim.run("replace-group", {
        groupName: "big0",
        reason: "new-image",
        targetVersion: "2",
        policy: { maxSurgePercent: 1 },
      });
      await sim.idle();
      expect(first.status).toBe("SUCCEEDED");
      expect((first.output as { continuedIn?: unknown }).continuedIn).toMatchObject({
        executionArn: expect.stringContaining(":continue-"),
      });
      const executions = [...sim.executions.values()];
      expect(executions.length).toBeGreaterThanOrEqual(2);
      expect(executions.every((execution) => execution.status === "SUCCEEDED")).toBe(true);
      for (const execution of executions) expect(execution.outcome?.historyEvents).toBeLessThan(20_000);
      const replaced = executions.reduce(
        (sum, execution) =>
          sum + (JSON.parse(execution.output ?? "{}") as { instancesReplaced: number }).instancesReplaced,
        0,
      );
      expect(replaced).toBe(300);
      const group = sim.world.requireGroup("big0");
      expect(new Set(group.instanceIds.map((id) => sim.world.requireInstance(id).imageId))).toEqual(
        new Set(["ami-0c1d2e3f4a5b60002"]),
      );
    } finally {
      await sim.close();
    }
  }, 60_000);
});
