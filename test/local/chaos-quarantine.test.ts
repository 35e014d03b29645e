// The chaos campaign's quarantine: a run whose suspect is a Spot instance with CMK-encrypted volumes, an
// Elastic IP and IPv6 sessions, in a VPC where new security groups take a while to be seen, keeps every
// invariant; and the monitor's quarantine invariants catch a Phoenix made to break each of them (the
// sabotage is applied from outside functions/, by wrapping Tasks or changing the simulated account).
import { describe, expect, it } from "vitest";
import { runChaos } from "../../local/chaos/campaign";
import { type ChaosRun, drawRun, runSeed } from "../../local/chaos/generate";
import { InvariantMonitor } from "../../local/chaos/invariants";
import { shapeSuspects } from "../../local/chaos/quarantine-faults";
import { loadScenario } from "../../local/scenario";
import { runScenario } from "../../local/scenario-run";
import { Simulation } from "../../local/simulation";

/** A manual replacement run of the fixed campaign, given a quarantine of a shaped suspect and no other fault. */
function quarantineRun(): ChaosRun {
  let seed = 0;
  let run: ChaosRun | undefined;
  for (let index = 0; !run; index++) {
    const candidate = drawRun(runSeed(7, index));
    if (candidate.trigger === "manual") {
      run = candidate;
      seed = candidate.seed;
    }
  }
  const faults: ChaosRun["faults"] = [
    { kind: "quarantine", atSeconds: 20, memberIndex: 0 },
    { kind: "spot-suspect" },
    { kind: "multi-volume-cmk", secondKey: "PendingDeletion" },
    { kind: "eip-ipv6" },
    { kind: "sg-eventual-consistency", seconds: [3, 6] },
  ];
  const scenario = structuredClone(run.scenario);
  shapeSuspects(scenario, faults);
  return { ...run, seed, scenario, faults };
}

describe("a quarantine in the chaos campaign", () => {
  it("meets every suspect shape and keeps every invariant", async () => {
    const result = await runChaos(quarantineRun());
    expect(result.violations).toEqual([]);
    expect(Object.keys(result.injected).sort()).toEqual(
      ["eip-ipv6", "multi-volume-cmk", "quarantine", "sg-eventual-consistency", "spot-suspect"].sort(),
    );
    expect(
      result.executions.find((execution) => execution.stateMachine === "quarantine-instance"),
    ).toBeDefined();
  }, 120_000);
});

/** Runs the quarantine scenario with the monitor and `sabotage` wrapped around every Task. */
async function sabotaged(
  sabotage: (
    sim: Simulation,
    task: { functionKey: string; input: unknown },
    call: () => Promise<unknown>,
  ) => Promise<unknown>,
  prepare: (sim: Simulation) => void = () => {},
) {
  const scenario = loadScenario("quarantine");
  const sim = await Simulation.fromScenario(scenario);
  const monitor = new InvariantMonitor(sim);
  prepare(sim);
  sim.interceptTask = (task, call) => monitor.intercept(task, () => sabotage(sim, task, call));
  await runScenario(scenario, () => {}, sim);
  await monitor.finish();
  await sim.close();
  return monitor.violations.map((violation) => violation.invariant);
}

describe("the monitor catches a quarantine that breaks its promises", () => {
  it("(and finds nothing wrong with one that keeps them)", async () => {
    expect(await sabotaged((_sim, _task, call) => call())).toEqual([]);
  });

  it("a suspect re-opened after containment", async () => {
    const invariants = await sabotaged(async (sim, task, call) => {
      const result = await call();
      if (task.functionKey === "preserveEvidence") {
        // Phoenix's own call, as far as the account can tell: the suspect's interface back in its web group.
        const suspect = (task.input as { plan: { instanceIds: string[] } }).plan.instanceIds[0] as string;
        const instance = sim.world.requireInstance(suspect);
        const web = [...sim.world.securityGroups.values()].find((group) => group.groupName === "web");
        sim.world.as("phoenix", () =>
          sim.world.setInterfaceGroups(
            instance,
            instance.networkInterfaces[0]?.networkInterfaceId as string,
            [web?.groupId as string],
          ),
        );
      }
      return result;
    });
    expect(invariants).toContain("contained");
  });

  it("a public address while all traffic is allowed in", async () => {
    const invariants = await sabotaged(
      (_sim, _task, call) => call(),
      (sim) => {
        // As if Phoenix opened the all-traffic group before taking the Elastic IP off.
        sim.world.onLog((entry) => {
          if (
            entry.kind !== "security-groups-changed" ||
            !entry.message.endsWith("phoenix-isolation-untrack")
          )
            return;
          const instance = sim.world.requireInstance(entry.instanceId as string);
          const eni = instance.networkInterfaces[0];
          if (eni && !eni.association) eni.publicIp = "54.1.2.3";
        });
      },
    );
    expect(invariants).toContain("exposed");
  });

  it("credentials not revoked though the stack revokes them", async () => {
    const invariants = await sabotaged(async (_sim, task, call) =>
      task.functionKey === "revokeCredentials" ? { revoked: [], notRevoked: [] } : call(),
    );
    expect(invariants).toContain("credentials");
  });

  it("a containment that failed and was not said", async () => {
    const invariants = await sabotaged(async (_sim, task, call) => {
      if (task.functionKey === "isolateInstances")
        throw Object.assign(new Error("sabotage"), { name: "Sabotage" });
      // A report that publishes nothing.
      if (task.functionKey === "reportQuarantine")
        return { failed: false, replacementValidated: true, manifests: [] };
      return call();
    });
    expect(invariants).toContain("silentFailure");
  });
});
