// The chaos campaign's quarantine: a run whose suspect is a Spot instance with CMK-encrypted volumes, an
// Elastic IP and IPv6 sessions, in a VPC where new security groups take a while to be seen, keeps every
// invariant. That the monitor's quarantine invariants catch a Phoenix made to break each of them is the
// sabotage catalogue's job (local/chaos/sabotage/quarantine.ts, run by test/local/chaos.test.ts).
import { describe, expect, it } from "vitest";
import { runChaos } from "../../local/chaos/campaign";
import { type ChaosRun, drawRun, runSeed } from "../../local/chaos/generate";
import { shapeSuspects } from "../../local/chaos/quarantine-faults";

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
