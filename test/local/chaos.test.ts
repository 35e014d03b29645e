// The fault-injection campaign (npm run chaos) at a fixed seed: its runs keep every invariant of the
// independent monitor, every fault kind acts, and any run replays to the same result. And the monitor has
// teeth: the sabotage catalogue (npm run chaos -- --sabotage) must catch every deliberate bug, each by the
// invariant it breaks; it runs as its own process, since its seams must be in place before functions/ loads.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { runCampaign, runChaos } from "../../local/chaos/campaign";
import { drawRun, FAULT_KINDS, runSeed } from "../../local/chaos/generate";
import { INVARIANTS } from "../../local/chaos/monitor";
import { CATALOGUE } from "../../local/chaos/sabotage/catalogue";
import type { SabotageRow } from "../../local/chaos/sabotage/run";
import { REPO_ROOT } from "../../local/stack";

describe("the fixed-seed campaign", () => {
  it("30 runs with every kind of fault keep every invariant", async () => {
    const campaign = await runCampaign(7, 30);
    const violations = campaign.runs.flatMap((run) =>
      run.violations.map((violation) => `run ${run.seed}: ${violation.invariant}: ${violation.detail}`),
    );
    expect(violations).toEqual([]);
    // Not a campaign of quiet runs: every fault kind acted, and executions completed, rolled back and stopped.
    const injected = new Set(campaign.runs.flatMap((run) => Object.keys(run.injected)));
    expect([...injected].sort()).toEqual([...FAULT_KINDS].sort());
    const results = campaign.runs.flatMap((run) => run.executions.map((execution) => execution.result));
    expect(results).toContain("completed");
    expect(results).toContain("rolled back");
    expect(results).toContain("stopped");
  }, 300_000);

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

describe("the sabotage catalogue", () => {
  it("has at least 15 deliberate bugs, each expecting an invariant the monitor has", () => {
    expect(CATALOGUE.length).toBeGreaterThanOrEqual(15);
    expect(new Set(CATALOGUE.map((sabotage) => sabotage.name)).size).toBe(CATALOGUE.length);
    for (const sabotage of CATALOGUE) expect(Object.keys(INVARIANTS)).toContain(sabotage.caughtBy);
  });

  it("npm run chaos -- --sabotage catches every one by its invariant, and not without the bug", async () => {
    const { stdout } = await promisify(execFile)(
      join(REPO_ROOT, "node_modules", ".bin", "tsx"),
      [join(REPO_ROOT, "local", "chaos.ts"), "--sabotage", "--json"],
      { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: { stdout?: string; stderr?: string }) => {
      // A missed sabotage exits 1: show what the table says.
      throw new Error(`${error.stdout ?? ""}\n${error.stderr ?? ""}`);
    });
    const { rows } = JSON.parse(stdout) as { rows: SabotageRow[] };
    expect(rows.map((row) => row.name)).toEqual(CATALOGUE.map((sabotage) => sabotage.name));
    for (const row of rows) {
      expect({
        name: row.name,
        caught: row.caught,
        baselineClean: row.baselineClean,
        unwired: row.unwired,
      }).toEqual({
        name: row.name,
        caught: true,
        baselineClean: true,
        unwired: [],
      });
    }
  }, 900_000);
});
