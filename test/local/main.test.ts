// `npm start` refuses bad input with exit 2 and says why, before running anything.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../local/stack";

async function start(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await promisify(execFile)(
      join(REPO_ROOT, "node_modules", ".bin", "tsx"),
      ["local/main.ts", ...args],
      { cwd: REPO_ROOT },
    );
    return { code: 0, stderr };
  } catch (error) {
    return error as { code: number; stderr: string };
  }
}

describe("npm start with bad input", { timeout: 180_000 }, () => {
  it.each([
    [["--seed", "abc"], /--seed <n>' argument 'abc' is invalid. a seed is a whole number/],
    [["--bogus"], /unknown option '--bogus'/],
  ])("%j exits 2, naming the problem", async (args, message) => {
    const { code, stderr } = await start(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});
