// Image events and age sweeps end to end on the simulator: the sample events in events/triggers go through the
// EventBridge rules of serverless.yml into the real handlers and state machines.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadScenario, type Scenario } from "../../local/scenario";
import { runScenario } from "../../local/scenario-run";
import { Simulation } from "../../local/simulation";
import { REPO_ROOT } from "../../local/stack";

let simulation: Simulation | undefined;
afterEach(async () => {
  await simulation?.close();
  simulation = undefined;
});

const sample = (name: string) =>
  JSON.parse(readFileSync(join(REPO_ROOT, "events", "triggers", `${name}.json`), "utf8"));

/** The image-waves account, with the channel's golden-AMI parameter and no soak, ready for events. */
async function imageAccount(edit: (scenario: Scenario) => void = () => {}) {
  const scenario = loadScenario("image-waves");
  scenario.parameters = [{ name: "/phoenix/golden-ami/web", value: "ami-0c1d2e3f4a5b60002" }];
  scenario.settings = { PHOENIX_SOAK_SECONDS: "0" };
  edit(scenario);
  simulation = await Simulation.fromScenario(scenario);
  return simulation;
}

const rollouts = (sim: Simulation) =>
  [...sim.executions.values()].filter((execution) => execution.stateMachineArn.includes("image-rollout"));
const replacements = (sim: Simulation) =>
  [...sim.executions.values()].filter((execution) => execution.stateMachineArn.includes("replace-group"));
const started = (sim: Simulation) => sim.journal.filter((call) => call.operation === "sfn:StartExecution");

describe("a new golden image", () => {
  it.each([
    ["onImageBuilt.image-builder-available", "imagebuilder"],
    ["onGoldenParameterChanged.ssm-golden-ami-updated", "ssm"],
    ["onImagePublished.image-published", "acme.packer-pipeline"],
  ])("%s starts one rollout of the channel", async (name, origin) => {
    const sim = await imageAccount();
    const result = (await sim.invoke(name.split(".")[0] as string, sample(name))) as {
      status: string;
      image: { imageId: string; channel: string; origin: string };
    };
    expect(result).toMatchObject({
      status: "started",
      image: { imageId: "ami-0c1d2e3f4a5b60002", channel: "web", origin },
    });
    await sim.idle();
    expect(rollouts(sim).map((execution) => execution.status)).toEqual(["SUCCEEDED"]);
    expect(
      replacements(sim)
        .map((execution) => execution.name)
        .sort(),
    ).toEqual([
      "img-web-web-canary-ami-0c1d2e3f4a5b60002-1",
      "img-web-web-eu-ami-0c1d2e3f4a5b60002-1",
      "img-web-web-us-ami-0c1d2e3f4a5b60002-1",
    ]);
    // The api channel is untouched.
    expect(sim.world.requireGroup("api").launchTemplate.version).toBe("1");
  });

  it("resolves the AMI of the stack's region from the Image Builder image", async () => {
    const sim = await imageAccount();
    await sim.invoke("onImageBuilt", sample("onImageBuilt.image-builder-available"));
    await sim.idle();
    const canary = sim.world.requireGroup("web-canary");
    const template = sim.world.launchTemplates.get(canary.launchTemplate.launchTemplateId);
    expect(template?.versions.get(Number(canary.launchTemplate.version))?.imageId).toBe(
      "ami-0c1d2e3f4a5b60002",
    );
  });

  it("ignores an image that did not become AVAILABLE, starting nothing", async () => {
    const sim = await imageAccount();
    expect(await sim.invoke("onImageBuilt", sample("onImageBuilt.image-builder-failed"))).toMatchObject({
      status: "ignored",
      reason: "image state is FAILED",
    });
    expect(started(sim)).toEqual([]);
  });

  it.each([
    [
      "no channel",
      (event: { detail: Record<string, unknown> }) => delete event.detail.channel,
      "detail.channel",
    ],
    [
      "a malformed AMI id",
      (event: { detail: Record<string, unknown> }) => (event.detail.imageId = "ami-xyz"),
      "detail.imageId: not an AMI id",
    ],
    [
      "an unknown field",
      (event: { detail: Record<string, unknown> }) => (event.detail.color = "red"),
      "detail",
    ],
    [
      "a channel with spaces",
      (event: { detail: Record<string, unknown> }) => (event.detail.channel = "web prod"),
      "detail.channel",
    ],
  ])(
    "rejects an Image Published event with %s, naming the field, and starts nothing",
    async (_, spoil, field) => {
      const sim = await imageAccount();
      const event = sample("onImagePublished.image-published");
      spoil(event);
      await expect(sim.invoke("onImagePublished", event)).rejects.toThrow(
        new RegExp(`Invalid input: .*${field.replace(/[.[\]]/g, "\\$&")}`),
      );
      expect(started(sim)).toEqual([]);
      expect(sim.mutatingCalls()).toEqual([]);
    },
  );

  it("rejects a golden-AMI parameter whose value is not an AMI id, and starts nothing", async () => {
    const sim = await imageAccount((scenario) => {
      scenario.parameters = [{ name: "/phoenix/golden-ami/web", value: "latest" }];
    });
    await expect(
      sim.invoke("onGoldenParameterChanged", sample("onGoldenParameterChanged.ssm-golden-ami-updated")),
    ).rejects.toThrow(/value "latest" is not an AMI id/);
    expect(started(sim)).toEqual([]);
  });

  it.each([
    ["100 (the default)", undefined, true],
    ["1", "1", false],
  ])("replaces at most groupsAtOnce groups of a wave together (%s)", async (_, setting, overlapping) => {
    const sim = await imageAccount((scenario) => {
      if (setting) scenario.settings = { ...scenario.settings, PHOENIX_IMAGE_WAVE_CONCURRENCY: setting };
    });
    await sim.invoke("onImagePublished", sample("onImagePublished.image-published"));
    await sim.idle();
    expect(rollouts(sim).map((execution) => execution.status)).toEqual(["SUCCEEDED"]);
    const runs = replacements(sim).map(
      (execution) => [execution.startDate, execution.stopDate ?? 0] as const,
    );
    expect(runs).toHaveLength(3);
    const overlaps = runs.some(([start, stop], index) =>
      runs.some(
        ([otherStart, otherStop], other) => other !== index && start < otherStop && otherStart < stop,
      ),
    );
    expect(overlaps).toBe(overlapping);
  });

  it("starts exactly one rollout however often EventBridge delivers the event", async () => {
    const sim = await imageAccount();
    sim.duplicateDeliveries = 2;
    const event = sample("onImageBuilt.image-builder-available");
    sim.putEvent({
      source: event.source,
      detailType: event["detail-type"],
      detail: event.detail,
      resources: event.resources,
    });
    // And the pipeline replays it later, while the rollout runs.
    sim.at(400, () =>
      sim.putEvent({
        source: event.source,
        detailType: event["detail-type"],
        detail: event.detail,
        resources: event.resources,
      }),
    );
    await sim.idle();
    expect(sim.invocations.filter((invocation) => invocation.functionKey === "onImageBuilt")).toHaveLength(6);
    expect(rollouts(sim)).toHaveLength(1);
    expect(replacements(sim)).toHaveLength(3);
    expect(
      started(sim).filter((call) =>
        (call.input as { stateMachineArn: string }).stateMachineArn.includes("image-rollout"),
      ).length,
    ).toBeLessThanOrEqual(1);
  });
});

describe("waves", () => {
  it("rolls wave 1 only after every group of wave 0 completed, and both groups of wave 1 together", async () => {
    const scenario = loadScenario("image-waves");
    const sim = await Simulation.fromScenario(scenario);
    simulation = sim;
    const report = await runScenario(scenario, () => {}, sim);
    expect(report.asExpected).toBe(true);
    expect(report.executions).toHaveLength(4);
    const times = (group: string) => {
      const execution = [...sim.executions.values()].find((item) => item.name.includes(`-${group}-`));
      return { start: execution?.startDate ?? 0, stop: execution?.stopDate ?? 0 };
    };
    expect(times("web-eu").start).toBeGreaterThan(times("web-canary").stop);
    expect(times("web-us").start).toBeGreaterThan(times("web-canary").stop);
    // wave 1's groups overlap in time.
    expect(times("web-us").start).toBeLessThan(times("web-eu").stop);
    // The 5-minute soak came first.
    expect(times("web-canary").start - (sim.world.events[0]?.at ?? 0)).toBeGreaterThanOrEqual(300_000);
  });

  it("holds every group of the first wave until the soak time has passed", async () => {
    const scenario = loadScenario("image-waves");
    for (const group of scenario.groups)
      if (group.tags["phoenix:image-channel"] === "web") group.tags["phoenix:wave"] = "0";
    const sim = await Simulation.fromScenario(scenario);
    simulation = sim;
    const report = await runScenario(scenario, () => {}, sim);
    expect(report.asExpected).toBe(true);
    const published = sim.world.events[0]?.at ?? 0;
    const starts = [...sim.executions.values()]
      .filter((execution) => execution.name.startsWith("img-"))
      .map((execution) => execution.startDate - published);
    expect(starts).toHaveLength(3);
    for (const start of starts) expect(start).toBeGreaterThanOrEqual(300_000);
  });

  it("halts when a wave fails: later waves never start, and an event says why", async () => {
    const scenario = loadScenario("image-waves-halt");
    simulation = await Simulation.fromScenario(scenario);
    const report = await runScenario(scenario, () => {}, simulation);
    expect(report.asExpected).toBe(true);
    expect(
      report.executions
        .filter((execution) => execution.stateMachine === "replace-group")
        .map((execution) => execution.name),
    ).toEqual(["img-web-web-canary-ami-0badbadbadbad0003-1"]);
    const halted = simulation.world.events.find((event) => event.detailType === "Image Rollout Halted");
    expect(halted?.detail).toMatchObject({
      channel: "web",
      haltedAtWave: 0,
      notStarted: ["web-eu", "web-us"],
    });
    expect((halted?.detail as { why?: string } | undefined)?.why).toMatch(
      /web-canary ReplacementRolledBack: wave 0: not ready/,
    );
    for (const name of ["web-eu", "web-us", "web-canary"])
      expect(simulation.world.requireGroup(name).launchTemplate.version).toBe("1");
  });
});

describe("the age sweep", () => {
  it("replaces the right instances, oldest first, within every budget", async () => {
    const scenario = loadScenario("age-sweep");
    simulation = await Simulation.fromScenario(scenario);
    const { world } = simulation;
    const ageOf = (id: string) => (world.clock.now() - world.requireInstance(id).launchTime) / 3_600_000;
    const report = await runScenario(scenario, () => {}, simulation);
    expect(report.asExpected).toBe(true);
    const runs = [...simulation.executions.values()].sort((a, b) => a.startDate - b.startDate);
    const inputs = runs.map((execution) => ({
      ...(JSON.parse(execution.input) as { groupName: string; instanceIds: string[]; reason: string }),
      start: execution.startDate,
      stop: execution.stopDate ?? 0,
    }));
    const firstStart = runs[0]?.startDate ?? 0;
    const first = inputs.filter((input) => input.start < firstStart + 1_800_000);
    const second = inputs.filter((input) => !first.includes(input));
    // Sweep 1: web's 4 oldest (budget 4/1h) and batch's one overdue instance; api waits for a fleet slot.
    expect(first.map((input) => input.groupName).sort()).toEqual(["batch", "web"]);
    const web1 = first.find((input) => input.groupName === "web");
    expect(web1?.instanceIds).toHaveLength(4);
    const ages = (web1?.instanceIds ?? []).map(ageOf);
    expect([...ages].sort((a, b) => b - a)).toEqual(ages);
    expect(first.find((input) => input.groupName === "batch")?.instanceIds.map(ageOf)[0]).toBeGreaterThan(
      10 * 24,
    );
    // Sweep 2, an hour later: web's last over-age instance, and api (one too old, two drifted).
    expect(second.map((input) => input.groupName).sort()).toEqual(["api", "web"]);
    expect(second.find((input) => input.groupName === "web")?.instanceIds).toHaveLength(1);
    expect(second.find((input) => input.groupName === "api")).toMatchObject({ reason: "max-age" });
    expect(second.find((input) => input.groupName === "api")?.instanceIds).toHaveLength(3);
    // Never more than 2 groups replacing at once; cache and legacy untouched.
    for (const run of inputs)
      expect(
        inputs.filter((other) => other.start <= run.start && other.stop > run.start).length,
      ).toBeLessThanOrEqual(2);
    expect(inputs.some((input) => ["cache", "legacy"].includes(input.groupName))).toBe(false);
    // Every group still healthy at its floor at every moment.
    for (const group of report.groups)
      expect(group.lowestHealthyInService).toBeGreaterThanOrEqual(group.floor);
  });

  it("a dry run returns the plan with waves and estimates, emits it as an event, and changes nothing", async () => {
    const scenario = loadScenario("age-sweep");
    simulation = await Simulation.fromScenario(scenario);
    const result = (await simulation.invoke("sweepFleet", {
      ...simulation.scheduledEvent(),
      dryRun: true,
    })) as {
      plan: { decisions: { groupName: string; action: string }[] };
      replacements: { groupName: string; waves: unknown[]; estimate: { totalSeconds: number } }[];
    };
    expect(result.replacements.map((item) => item.groupName).sort()).toEqual(["batch", "web"]);
    for (const replacement of result.replacements) {
      expect(replacement.waves.length).toBeGreaterThan(0);
      expect(replacement.estimate.totalSeconds).toBeGreaterThan(0);
    }
    expect(simulation.executions.size).toBe(0);
    expect(simulation.mutatingCalls().map((call) => call.operation)).toEqual(["events:PutEvents"]);
    expect(simulation.world.events.map((event) => event.detailType)).toEqual(["Sweep Planned"]);
  });

  it("skips a group whose phoenix:policy tag is malformed, names it, and replaces the others", async () => {
    const scenario = loadScenario("age-sweep");
    const web = scenario.groups.find((item) => item.name === "web") as Scenario["groups"][number];
    web.tags["phoenix:policy"] = '{"maxSurgePercent":50,';
    simulation = await Simulation.fromScenario(scenario);
    const result = (await simulation.invoke("sweepFleet", simulation.scheduledEvent())) as {
      plan: { decisions: { groupName: string; action: string; why: string }[] };
    };
    await simulation.idle();
    expect(result.plan.decisions.find((decision) => decision.groupName === "web")).toMatchObject({
      action: "skip",
      why: "invalid tag phoenix:policy: is not JSON",
      invalidTag: { tag: "phoenix:policy", reason: "is not JSON" },
    });
    // The fleet's two slots go to the next groups due, and both replacements complete.
    const runs = [...simulation.executions.values()];
    expect(runs.map((run) => JSON.parse(run.input).groupName).sort()).toEqual(["api", "batch"]);
    expect(runs.map((run) => run.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    const started = simulation.world.events.find((event) => event.detailType === "Sweep Started");
    expect((started?.detail as { groups?: unknown[] } | undefined)?.groups).toContainEqual(
      expect.objectContaining({
        groupName: "web",
        action: "skip",
        invalidTag: { tag: "phoenix:policy", reason: "is not JSON" },
      }),
    );
  });

  it("reads every page of a large fleet", async () => {
    const scenario = loadScenario("age-sweep");
    const template = scenario.groups.find((item) => item.name === "cache") as Scenario["groups"][number];
    scenario.groups = Array.from({ length: 230 }, (_, n) => ({
      ...template,
      name: `cache-${String(n).padStart(3, "0")}`,
      targetGroups: [],
    }));
    simulation = await Simulation.fromScenario(scenario);
    const result = (await simulation.invoke("sweepFleet", {
      ...simulation.scheduledEvent(),
      dryRun: true,
    })) as { plan: { decisions: unknown[] } };
    expect(result.plan.decisions).toHaveLength(230);
    expect(
      simulation.journal.filter((call) => call.operation === "autoscaling:DescribeAutoScalingGroups"),
    ).toHaveLength(3);
  });
});
