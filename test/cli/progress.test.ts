// What the phoenix command says while it waits: plain lines without a terminal, nothing with --quiet, and a
// deployed execution's history told as steps, waits and retries.
import type { HistoryEvent } from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { HistoryNarrator } from "../../cli/history";
import { createProgress, type Progress } from "../../cli/progress";
import { describeReplaceStep } from "../../local/timeline";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("progress without a terminal", () => {
  it("says an open-ended wait again while it lasts, a timed one once, and nothing once it ends", async () => {
    let written = "";
    const progress = createProgress({
      write: (text) => (written += text),
      interactive: false,
      quiet: false,
      heartbeatMs: 20,
    });
    progress("00:00  Plan started");
    progress.status?.("Plan: calling AWS");
    await sleep(70);
    progress.status?.(undefined);
    const saidWhileRunning = written;
    await sleep(50);
    expect(saidWhileRunning).toMatch(
      /^00:00 {2}Plan started\n( {10}still Plan: calling AWS \(\d+ s\)\n){2,}$/,
    );
    expect(written).toBe(saidWhileRunning);
    progress.status?.("waiting (WaitForWave)", Date.now() + 60_000);
    await sleep(50);
    expect(written).toBe(saidWhileRunning);
    progress.stop();
  });

  it("--quiet says nothing at all", async () => {
    let written = "";
    const progress = createProgress({
      write: (text) => (written += text),
      interactive: false,
      quiet: true,
      heartbeatMs: 10,
    });
    progress("a line");
    progress.status?.("Plan: calling AWS");
    await sleep(40);
    progress.stop();
    expect(written).toBe("");
  });
});

describe("following a deployed execution's history", () => {
  const narrate = (events: HistoryEvent[]) => {
    const lines: string[] = [];
    const statuses: (string | undefined)[] = [];
    const progress = ((line: string) => lines.push(line)) as Progress;
    progress.status = (text) => statuses.push(text);
    const narrator = new HistoryNarrator("replace-group", describeReplaceStep, progress, () => 0);
    for (const event of events) narrator.onEvent(event);
    return { lines, statuses, narrator };
  };
  const at = new Date("2026-11-23T09:00:00Z");

  it("a failed attempt says the error, which retry comes and when (from the deployed ASL's Retry)", () => {
    const { lines, statuses } = narrate([
      {
        id: 1,
        type: "TaskStateEntered",
        timestamp: at,
        stateEnteredEventDetails: { name: "CheckWave", input: "{}" },
      },
      { id: 2, previousEventId: 1, type: "LambdaFunctionScheduled", timestamp: at },
      {
        id: 3,
        previousEventId: 2,
        type: "LambdaFunctionFailed",
        timestamp: at,
        lambdaFunctionFailedEventDetails: {
          error: "ThrottledError",
          cause: JSON.stringify({
            errorType: "ThrottledError",
            errorMessage: "DescribeInstances: Throttling: Rate exceeded",
          }),
        },
      },
    ]);
    expect(statuses[0]).toBe("CheckWave: running");
    expect(lines).toEqual([
      expect.stringMatching(
        /^2026-11-23T09:00:00.000Z {2}CheckWave: ThrottledError: DescribeInstances: Throttling: Rate exceeded; Step Functions retries it \(1 of \d+\) (in|within) \d/,
      ),
    ]);
  });

  it("a wait says how long, and a refusal is remembered", () => {
    const { lines, narrator } = narrate([
      {
        id: 1,
        type: "WaitStateEntered",
        timestamp: at,
        stateEnteredEventDetails: {
          name: "WaitForReady",
          input: JSON.stringify({ readiness: { nextCheckSeconds: 90 } }),
        },
      },
      { id: 2, type: "FailStateEntered", timestamp: at, stateEnteredEventDetails: { name: "PlanRefused" } },
    ]);
    expect(narrator.failState).toBe("PlanRefused");
    expect(lines).toEqual(["2026-11-23T09:00:00.000Z  waiting 1m 30s (WaitForReady)"]);
  });
});
