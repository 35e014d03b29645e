// Every `--local` example of the README runs as written: the lines are read from README.md's shell blocks
// and run through a shell in the repository, exactly as a reader would paste them.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../local/stack";

/** The README's shell lines that run the phoenix command on the simulated account. */
function localExamples(readme: string): string[] {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] as string);
  return blocks
    .flatMap((block) => block.split("\n"))
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line.startsWith("npm run phoenix --") && /\s--local(\s|$)/.test(line));
}

const examples = localExamples(readFileSync(join(REPO_ROOT, "README.md"), "utf8"));

describe("the README's --local examples", () => {
  it("are found (the README shows the command on the simulated account)", () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples)(
    "%s",
    async (line) => {
      const { stdout } = await promisify(execFile)("sh", ["-c", line], {
        cwd: REPO_ROOT,
        env: { ...process.env, NO_COLOR: "1" },
      });
      expect(stdout.trim().length).toBeGreaterThan(0);
    },
    120_000,
  );
});
