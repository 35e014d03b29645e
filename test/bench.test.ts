// `npm run bench` is a script, not a test: no figure is asserted here. This only checks that the quick run
// works end to end and writes its results.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../local/state-machine";

describe("npm run bench -- --quick", () => {
  it("runs every section and writes bench/results.quick.json", async () => {
    const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "bench", "--", "--quick"], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    for (const heading of [
      "Rotation: Phoenix, Instance Refresh and the honest floor",
      "The floor has teeth",
      "Control-plane cost",
      "history events",
      "Simulator scale",
      "Sweep scale",
      "Cold start",
    ])
      expect(stdout).toContain(heading);
    const results = JSON.parse(readFileSync(join(REPO_ROOT, "bench", "results.quick.json"), "utf8"));
    expect(results.command).toBe("npm run bench -- --quick");
    expect(results.sideBySide).toHaveLength(3);
    for (const row of results.sideBySide) {
      // A floor no engine of the row beats (the benchmark itself refuses to print one that is beaten).
      expect(row.phoenix.ratio.mean).toBeGreaterThanOrEqual(1);
      expect(row.refreshTuned.ratio.mean).toBeGreaterThanOrEqual(1);
      expect(row.floorSeconds).toHaveLength(2);
    }
    expect(results.teeth.slowed.ratio.mean).toBeGreaterThan(results.teeth.phoenix.ratio.mean);
    expect(results.cost.rows[0].apiCalls).toBeGreaterThan(0);
    expect(results.simulatorScale.instances).toBe(500);
    expect(results.sweep[0].instances).toBe(5000);
    expect(results.coldStart.map((row: { function: string }) => row.function)).toEqual([
      "planReplacement",
      "checkWave",
      "sweepFleet",
    ]);
  }, 600_000);
});
