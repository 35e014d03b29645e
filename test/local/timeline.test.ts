// The live timeline a person reads: within 120 characters, columns aligned whatever the group names,
// booting instances "not yet healthy", failures one sentence with the error's name.
import { describe, expect, it } from "vitest";
import { loadScenario } from "../../local/scenario";
import { runScenario } from "../../local/scenario-run";
import { describeFailure, LINE_WIDTH, wrap } from "../../local/timeline";

async function timelineOf(
  name: string,
  edit: (scenario: ReturnType<typeof loadScenario>) => void = () => {},
) {
  const scenario = loadScenario(name);
  edit(scenario);
  const lines: string[] = [];
  await runScenario(scenario, (line) => lines.push(line));
  return lines;
}

describe("the timeline", () => {
  it("a halted image rollout: every line within 120 characters, the failure as one sentence", async () => {
    const lines = await timelineOf("image-waves-halt");
    expect(lines.length).toBeGreaterThan(20);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(LINE_WIDTH);
    const text = lines.join("\n");
    expect(text).not.toMatch(/States\.TaskFailed|\{"/);
    expect(text).toMatch(/ReplaceGroup FAILED: ReplacementRolledBack: wave 0: not ready/);
  });

  it("a booting instance is not yet healthy; the message column stays put for long group names", async () => {
    const longName = "web-prod-eu-central-1-payments";
    const lines = await timelineOf("default", (scenario) => {
      const group = scenario.groups[0] as (typeof scenario.groups)[number];
      scenario.run = JSON.parse(JSON.stringify(scenario.run).replaceAll(`"${group.name}"`, `"${longName}"`));
      group.name = longName;
    });
    const text = lines.join("\n");
    expect(text).toMatch(/i-\w+ not yet healthy in web/);
    expect(text).not.toMatch(/ unhealthy in /);
    // Time, group, label, message: the label column starts at the same place on every line.
    const stepLines = lines.filter((line) => /^\d\d:\d\d:\d\d\.\d /.test(line));
    const labelColumns = new Set(stepLines.map((line) => line.search(/ (aws|phoenix|wave \d+\/\d+) /)));
    expect(labelColumns.size).toBe(1);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(LINE_WIDTH);
  });
});

describe("describeFailure", () => {
  it("digs the innermost error out of a child execution's JSON cause", () => {
    const cause = JSON.stringify({
      ExecutionArn: "arn:aws:states:us-east-1:123456789012:execution:phoenix-replace-group-dev:x",
      Status: "FAILED",
      Error: "ReplacementRolledBack",
      Cause: "wave 0: not ready before the readiness timeout",
    });
    expect(describeFailure("States.TaskFailed", cause)).toBe(
      "ReplacementRolledBack: wave 0: not ready before the readiness timeout",
    );
  });

  it("reads a Lambda error and does not repeat the name", () => {
    const cause = JSON.stringify({
      errorType: "ThrottledError",
      errorMessage: "ThrottledError: too many calls.",
    });
    expect(describeFailure("ThrottledError", cause)).toBe("ThrottledError: too many calls");
    expect(describeFailure("Interrupted", "interrupted from the terminal\n(Ctrl-C)")).toBe(
      "Interrupted: interrupted from the terminal (Ctrl-C)",
    );
  });
});

describe("wrap", () => {
  it("breaks at spaces within the width and keeps a line's indentation", () => {
    expect(wrap("  one two three four", 10)).toEqual(["  one two", "three four"]);
    expect(wrap("a-very-long-identifier-without-spaces", 10)).toEqual(["a-very-lo…"]);
  });
});
