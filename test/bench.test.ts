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
      "Rotation makespan",
      "Control-plane cost",
      "history events",
      "Sweep scale",
      "Cold start",
    ])
      expect(stdout).toContain(heading);
    const results = JSON.parse(readFileSync(join(REPO_ROOT, "bench", "results.quick.json"), "utf8"));
    expect(results.command).toBe("npm run bench -- --quick");
    expect(results.makespan).toHaveLength(3);
    for (const row of results.makespan) {
      expect(row.makespanSeconds).toBeGreaterThan(row.boundSeconds * 0.5);
      expect(row.cost.apiCalls).toBeGreaterThan(0);
    }
    expect(results.sweep.instances).toBe(5000);
    expect(results.coldStart.map((row: { function: string }) => row.function)).toEqual([
      "planReplacement",
      "checkWave",
      "sweepFleet",
    ]);
  }, 180_000);
});
