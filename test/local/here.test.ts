// Pull mode (`--here`): the CLI runs the workflows in its own process. These tests run the real command
// path (runPhoenix -> hereBackend -> HereRunner -> the state machine files and handlers) and hand it the
// simulated account's clients and clock through the same seam a real run gets its SDK clients from, so the
// seam itself is what is tested. No test here reaches AWS.
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { hereBackend } from "../../cli/backends";
import { resetCreatedClients, useClients } from "../../functions/aws/clients";
import { describeInstances } from "../../functions/aws/ec2";
import { readGroup } from "../../functions/aws/fleet";
import { type HereOptions, HereRunner, INTERRUPTIBLE_TASKS } from "../../local/here";
import { loadScenario } from "../../local/scenario";
import { Simulation } from "../../local/simulation";
import { loadStateMachine } from "../../local/state-machine";
import { runCaptured } from "../run-phoenix";

const NEW_IMAGE = "ami-0c1d2e3f4a5b60002";

/** The simulated account's clock, as pull mode's clock: a wait lets simulated time pass. */
const simulatedTime = (sim: Simulation): HereOptions["time"] => ({
  now: () => sim.world.clock.now(),
  sleep: async (ms) => sim.world.clock.advanceBy(ms),
  random: () => sim.world.random.next(),
});

/** Runs `phoenix <args> --here` in-process against a simulated account; `watch` sees every execution event. */
async function phoenixHere(
  sim: Simulation,
  args: string[],
  options: {
    interrupt?: AbortSignal;
    watch?: Parameters<HereRunner["onExecutionEvent"]>[0];
    clients?: HereOptions["clients"];
    stateDir?: string;
  } = {},
) {
  return runCaptured([...args, "--here"], async (target) => {
    const backend = await hereBackend({
      clients: options.clients ?? sim.clients,
      stateDir: options.stateDir,
      time: simulatedTime(sim),
      table: target.table,
      interrupt: options.interrupt,
    });
    if (options.watch) backend.runner.onExecutionEvent(options.watch);
    return backend;
  });
}

describe("phoenix replace --here", () => {
  let sim: Simulation;
  beforeEach(async () => {
    sim = await Simulation.fromScenario(loadScenario("default"));
  });
  afterEach(async () => {
    await sim.close();
  });

  it("runs the replacement in this process through the handed-in clients, onto the new image", async () => {
    // As a real run without --table: locks are kept in a directory on this machine.
    const { dynamodb: _accountTable, ...clients } = sim.clients;
    const stateDir = mkdtempSync(join(tmpdir(), "phoenix-here-"));
    const { code, stdout } = await phoenixHere(sim, ["replace", "web-prod", "--target-version", "2"], {
      clients,
      stateDir,
    });
    expect(code).toBe(0);
    expect(stdout).toContain("12 instances replaced in 4 waves");
    expect(stdout).toMatch(/waiting \d+s \(WaitForReady\)/);
    expect(stdout).toContain(`note: locks and quarantine records are kept in ${stateDir} on this machine`);
    const group = sim.world.requireGroup("web-prod");
    expect(group.instanceIds.map((id) => sim.world.requireInstance(id).imageId)).toEqual(
      Array(12).fill(NEW_IMAGE),
    );
    // Everything went through the simulated account's clients; no execution ran in the simulated Step
    // Functions: the state machine ran in the pull-mode runner.
    expect(sim.journal.some((call) => call.operation === "autoscaling:SetDesiredCapacity")).toBe(true);
    expect(sim.executions.size).toBe(0);
  }, 60_000);

  it("--image creates a launch template version with only the image changed, then rolls onto it", async () => {
    const { code, stdout } = await phoenixHere(sim, ["replace", "web-prod", "--image", NEW_IMAGE]);
    expect(code).toBe(0);
    expect(stdout).toContain(`rolling onto ${NEW_IMAGE}: launch template version 3`);
    const group = sim.world.requireGroup("web-prod");
    // The group keeps the new version, so that what it launches from now on runs the new image.
    expect(group.launchTemplate?.version).toBe("3");
    expect(
      new Set(group.instanceIds.map((id) => sim.world.requireInstance(id).launchTemplate?.version)),
    ).toEqual(new Set(["3"]));
  }, 60_000);

  it("a dry run returns the plan and makes no mutating call", async () => {
    const { code, stdout } = await phoenixHere(sim, [
      "replace",
      "web-prod",
      "--target-version",
      "2",
      "--dry-run",
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain("plan: 12 instances in 4 waves");
    expect(sim.mutatingCalls()).toEqual([]);
  });

  it("a dry run with --image refuses when no version carries the image yet, naming the option", async () => {
    const { code, stderr } = await phoenixHere(sim, [
      "replace",
      "web-prod",
      "--image",
      NEW_IMAGE,
      "--dry-run",
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain("--image: no version of launch template");
    expect(sim.mutatingCalls()).toEqual([]);
  });

  it("Ctrl-C rolls the current wave back, restores the group and says what it restored", async () => {
    const interrupt = new AbortController();
    const { code, stdout } = await phoenixHere(sim, ["replace", "web-prod", "--target-version", "2"], {
      interrupt: interrupt.signal,
      // The user presses Ctrl-C while the second wave is waiting for its new instances.
      watch: (event) => {
        if (event.type === "StateEntered" && event.stateName === "WaitForReady" && event.index === 1)
          interrupt.abort();
      },
    });
    expect(code).toBe(1);
    expect(stdout).toMatch(/CheckWave FAILED: Interrupted: interrupted from the terminal \(Ctrl-C\)/);
    expect(stdout).toMatch(/ROLL BACK: terminated i-/);
    expect(stdout).toContain("restored launch template version 1, min 12, max 12; resumed AZRebalance");
    expect(stdout).toContain("FAILED: ReplacementRolledBack");
    await sim.idle();
    sim.world.clock.advanceBy(120_000);
    const group = sim.world.requireGroup("web-prod");
    expect(group.launchTemplate?.version).toBe("1");
    expect(group.maxSize).toBe(12);
    expect(group.suspendedProcesses.size).toBe(0);
    expect(sim.world.healthyInService("web-prod").length).toBeGreaterThanOrEqual(12);
    // The first wave had finished: its three new instances stay; the second wave's were terminated.
    const images = group.instanceIds.map((id) => sim.world.requireInstance(id).imageId);
    expect(images.filter((image) => image === NEW_IMAGE)).toHaveLength(3);
  }, 60_000);

  it("Ctrl-C during a dry run simply stops", async () => {
    const interrupt = new AbortController();
    interrupt.abort();
    const { code, stdout } = await phoenixHere(sim, ["replace", "web-prod", "--dry-run"], {
      interrupt: interrupt.signal,
    });
    expect(code).toBe(1);
    expect(stdout).toContain("ABORTED");
    expect(sim.mutatingCalls()).toEqual([]);
  });
});

describe("phoenix sweep and quarantine --here", () => {
  it("sweep --dry-run prints the plan and changes nothing; sweep replaces within budgets", async () => {
    const sim = await Simulation.fromScenario(loadScenario("age-sweep"));
    try {
      const dry = await phoenixHere(sim, ["sweep", "--dry-run", "--json"]);
      expect(dry.code).toBe(0);
      expect(
        JSON.parse(dry.stdout).plan.decisions.map((decision: { action: string }) => decision.action),
      ).toEqual(["replace", "replace", "skip", "skip"]);
      // The one call a sweep's dry run makes: it announces its plan as an event (nothing in the account changes).
      expect(sim.mutatingCalls().map((call) => call.operation)).toEqual(["events:PutEvents"]);
      expect(sim.world.events.map((event) => event.detailType)).toEqual(["Sweep Planned"]);
      const run = await phoenixHere(sim, ["sweep"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/web: 4 instances replaced/);
      expect(run.stdout).toMatch(/batch: \d+ instances replaced/);
    } finally {
      await sim.close();
    }
  }, 60_000);

  it("quarantine --dry-run shows the plan and makes no mutating call; without it, isolates and preserves", async () => {
    const sim = await Simulation.fromScenario(loadScenario("quarantine"));
    try {
      const suspect = sim.world.requireGroup(sim.world.groups.keys().next().value as string).instanceIds[0];
      const { code, stdout } = await phoenixHere(sim, [
        "quarantine",
        suspect as string,
        "--reason",
        "beaconing to a known C2 address",
        "--dry-run",
      ]);
      expect(code).toBe(0);
      expect(stdout).toContain(`plan: quarantine ${suspect}`);
      expect(sim.mutatingCalls()).toEqual([]);
      const run = await phoenixHere(sim, [
        "quarantine",
        suspect as string,
        "--reason",
        "beaconing to a known C2 address",
        "--case",
        "IR-9",
      ]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        new RegExp(`case IR-9: ${suspect} quarantined, manifest sha256 [0-9a-f]{64}`),
      );
      expect(sim.world.requireInstance(suspect as string).state).toBe("running");
    } finally {
      await sim.close();
    }
  }, 60_000);
});

describe("pull mode's local state", () => {
  it("keeps a quarantine's record across runs, so a later release can restore the instance", async () => {
    const sim = await Simulation.fromScenario(loadScenario("quarantine"));
    try {
      const { dynamodb: _accountTable, ...clients } = sim.clients;
      const stateDir = mkdtempSync(join(tmpdir(), "phoenix-here-"));
      const suspect = sim.world.requireGroup(sim.world.groups.keys().next().value as string)
        .instanceIds[0] as string;
      const groupsOf = (id: string) =>
        sim.world.requireInstance(id).networkInterfaces.map((eni) => eni.groups);
      const before = groupsOf(suspect);
      const quarantine = await phoenixHere(
        sim,
        ["quarantine", suspect, "--reason", "beaconing to a known C2 address", "--case", "IR-11"],
        { clients, stateDir },
      );
      expect(quarantine.code).toBe(0);
      expect(groupsOf(suspect)).not.toEqual(before);
      // A later run (another process, as far as the state is concerned) finds the record and restores.
      const release = await phoenixHere(sim, ["quarantine", "release", suspect], { clients, stateDir });
      expect(release.code).toBe(0);
      expect(groupsOf(suspect)).toEqual(before);
    } finally {
      await sim.close();
    }
  }, 60_000);

  it("refuses a second run on the same machine while one holds the state, before any call", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "phoenix-here-"));
    const sim = await Simulation.fromScenario(loadScenario("default"));
    const { dynamodb: _accountTable, ...clients } = sim.clients;
    const first = await HereRunner.open({ clients, stateDir });
    try {
      await expect(HereRunner.open({ clients, stateDir })).rejects.toThrow(
        `Another phoenix --here run on this machine is using ${stateDir}`,
      );
    } finally {
      await first.close();
      await sim.close();
    }
  });
});

describe("pull mode and the AWS configuration", () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    vi.restoreAllMocks();
    useClients({});
    resetCreatedClients();
  });

  it("without a region or credentials fails at once with a clear message and makes no call", async () => {
    const send = vi.spyOn(NodeHttpHandler.prototype, "handle");
    for (const [missing, unset, says] of [
      ["region", ["AWS_REGION", "AWS_DEFAULT_REGION"], "No AWS region"],
      ["credentials", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], "No AWS credentials"],
    ] as const) {
      process.env = {
        ...saved,
        AWS_CONFIG_FILE: "/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
      };
      for (const name of unset) delete process.env[name];
      const { code, stderr } = await runCaptured(["replace", "web-prod", "--here"], (target) =>
        hereBackend({ table: target.table }),
      );
      expect(code, missing).toBe(3);
      expect(stderr, missing).toContain(says);
    }
    expect(send).not.toHaveBeenCalled();
  });

  it("the clients Phoenix builds honour AWS_ENDPOINT_URL and the service-specific endpoint variables", async () => {
    const seen: { host: string; action: string }[] = [];
    const server: Server = createServer((request: IncomingMessage, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        const action = /Action=(\w+)/.exec(body)?.[1] ?? "";
        seen.push({ host: request.headers.host ?? "", action });
        response.setHeader("content-type", "text/xml");
        response.end(
          action === "DescribeInstances"
            ? '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet/></DescribeInstancesResponse>'
            : '<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      // The general variable for every service, and EC2's own, which wins for EC2.
      process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${port}/all`;
      process.env.AWS_ENDPOINT_URL_EC2 = `http://localhost:${port}/ec2`;
      useClients({});
      resetCreatedClients();
      expect(await describeInstances(["i-0123456789abcdef0"])).toEqual([]);
      await expect(readGroup("web-prod")).rejects.toThrow(/web-prod/);
      expect(seen).toEqual([
        { host: `localhost:${port}`, action: "DescribeInstances" },
        { host: `127.0.0.1:${port}`, action: "DescribeAutoScalingGroups" },
      ]);
    } finally {
      server.close();
    }
  });
});

describe("what Ctrl-C may interrupt", () => {
  it("names only Tasks of each state machine, and never a clean-up or evidence step", () => {
    for (const [file, states] of Object.entries(INTERRUPTIBLE_TASKS)) {
      const tasks = new Set(loadStateMachine(file).taskFunctions.keys());
      for (const state of states) expect(tasks.has(state), `${file}: ${state}`).toBe(true);
    }
    for (const cleanUp of [
      "RollbackWave",
      "RestoreGroup",
      "SettleCapacity",
      "Finish",
      "ReapRetired",
      "ReleaseLock",
    ])
      expect(INTERRUPTIBLE_TASKS["replace-group"]?.has(cleanUp), cleanUp).toBe(false);
    for (const evidence of ["Preserve", "Isolate", "Detach", "SnapshotVolumes", "CheckSnapshots", "Report"])
      expect(INTERRUPTIBLE_TASKS["quarantine-instance"]?.has(evidence), evidence).toBe(false);
  });
});
