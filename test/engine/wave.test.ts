import { describe, expect, it } from "vitest";
import { restorationFor } from "../../functions/engine/restore";
import type { TargetHealth } from "../../functions/engine/types";
import {
  assessDrain,
  assessReadiness,
  explainWaveFailure,
  judgeProbes,
  liveMembers,
  nextCheckDelay,
  type WaveLaunch,
} from "../../functions/engine/wave";
import { group, instance, instanceId, NEW_IMAGE, NOW, policy, TG_ARN, target } from "../fixtures";

const launch = (overrides: Partial<WaveLaunch> = {}): WaveLaunch => ({
  launchedAt: NOW.toISOString(),
  deadline: new Date(NOW.getTime() + 600_000).toISOString(),
  baselineIds: [1, 2, 3].map(instanceId),
  launchCount: 2,
  desiredBefore: 3,
  desiredAfter: 5,
  nextCheckSeconds: 60,
  ...overrides,
});

const fresh = (n: number, state = "InService") =>
  instance(n, { launchTemplateVersion: "2", imageId: NEW_IMAGE, lifecycleState: state });
const healthy = (n: number, state: TargetHealth["state"] = "healthy"): TargetHealth => ({
  targetGroupArn: TG_ARN,
  instanceId: instanceId(n),
  state,
});
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

describe("readiness of a launched wave", () => {
  const withNew = (...extra: ReturnType<typeof instance>[]) =>
    group(3, { instances: [instance(1), instance(2), instance(3), ...extra] });

  it("is ready when every new instance is InService, Healthy and healthy in every target group", () => {
    const verdict = assessReadiness({
      group: withNew(fresh(10), fresh(11)),
      launch: launch(),
      target,
      targetHealth: [healthy(10), healthy(11)],
      policy: policy(),
      now: at(90),
    });
    expect(verdict).toMatchObject({
      ready: true,
      timedOut: false,
      newInstanceIds: [instanceId(10), instanceId(11)],
      waiting: [],
    });
  });

  it("waits, saying for what, while instances launch or pass health checks", () => {
    const verdict = assessReadiness({
      group: withNew(fresh(10, "Pending")),
      launch: launch(),
      target,
      targetHealth: [],
      policy: policy({ readiness: { pollSeconds: 20 } }),
      now: at(30),
    });
    expect(verdict.ready).toBe(false);
    expect(verdict.waiting).toEqual(["1 of 2 instances not launched yet", `${instanceId(10)} Pending`]);
    expect(verdict.nextCheckSeconds).toBe(20);
  });

  it("does not count instances from the baseline, other versions, or terminating ones", () => {
    const verdict = assessReadiness({
      group: withNew(instance(10, { launchTemplateVersion: "1" }), fresh(11, "Terminating"), fresh(12)),
      launch: launch({ launchCount: 1 }),
      target,
      targetHealth: [healthy(12, "initial")],
      policy: policy(),
      now: at(30),
    });
    expect(verdict.newInstanceIds).toEqual([instanceId(12)]);
    expect(verdict.waiting).toEqual([`${instanceId(12)} initial in web`]);
  });

  it("times out at the deadline, and never waits past it by more than a second", () => {
    const args = {
      group: withNew(fresh(10)),
      launch: launch({ launchCount: 1 }),
      target,
      targetHealth: [healthy(10, "unhealthy")],
      policy: policy(),
    };
    expect(assessReadiness({ ...args, now: at(599) }).timedOut).toBe(false);
    expect(assessReadiness({ ...args, now: at(600) }).timedOut).toBe(true);
    expect(nextCheckDelay(15, at(600).toISOString(), at(595))).toBe(6);
  });
});

describe("probe verdicts", () => {
  const evidence = {
    instances: [
      { instanceId: instanceId(10), imageId: NEW_IMAGE, state: "running" },
      { instanceId: instanceId(11), imageId: NEW_IMAGE, state: "running" },
    ],
    targetGroupArns: [TG_ARN],
    targetHealth: [healthy(10), healthy(11)],
    http: [
      { instanceId: instanceId(10), status: 200 },
      { instanceId: instanceId(11), status: 200 },
    ],
    alarms: [{ alarmName: "web-5xx", state: "OK" }],
  };
  const ids = [instanceId(10), instanceId(11)];
  const withProbes = policy({ probes: { http: { path: "/health" }, alarms: ["web-5xx"] } });

  it("passes with every check recorded", () => {
    const verdict = judgeProbes({ waveInstanceIds: ids, evidence, target, policy: withProbes });
    expect(verdict.passed).toBe(true);
    expect(verdict.checks.map((check) => check.check)).toEqual(["target-health", "image", "http", "alarms"]);
  });

  it.each([
    [
      "an instance on the wrong image",
      {
        instances: [
          { instanceId: instanceId(10), imageId: "ami-0000000000000cccc", state: "running" },
          evidence.instances[1],
        ],
      },
      /image: .* runs ami-0000000000000cccc, not ami-0000000000000bbbb/,
    ],
    [
      "an HTTP error status",
      { http: [{ instanceId: instanceId(10), status: 500 }, evidence.http[1]] },
      /GET \/health returned 500, expected 200/,
    ],
    [
      "an HTTP timeout",
      { http: [{ instanceId: instanceId(10), error: "no answer within 5000 ms" }, evidence.http[1]] },
      /no answer within 5000 ms/,
    ],
    ["an alarm in ALARM", { alarms: [{ alarmName: "web-5xx", state: "ALARM" }] }, /alarm web-5xx is ALARM/],
    ["a missing alarm (fail closed)", { alarms: [] }, /alarm web-5xx does not exist/],
    [
      "a target gone unhealthy",
      { targetHealth: [healthy(10), healthy(11, "unhealthy")] },
      /target-health: .* unhealthy in web/,
    ],
  ])("fails on %s, with the reason", (_, change, reason) => {
    const verdict = judgeProbes({
      waveInstanceIds: ids,
      evidence: { ...evidence, ...change } as typeof evidence,
      target,
      policy: withProbes,
    });
    expect(verdict.passed).toBe(false);
    expect(verdict.reasons.join("\n")).toMatch(reason);
  });
});

describe("draining, retiring and restoring", () => {
  it("is drained when no old instance is draining any more", () => {
    expect(assessDrain([instanceId(1)], [healthy(1, "draining")])).toEqual({
      drained: false,
      draining: [`${instanceId(1)} draining from web`],
    });
    expect(assessDrain([instanceId(1)], [healthy(2, "draining")]).drained).toBe(true);
  });

  it("only live members may be acted on; quarantined ones never", () => {
    const members = group(3, {
      instances: [instance(1), instance(2, { lifecycleState: "Terminating:Wait" }), instance(3)],
    });
    const result = liveMembers([instanceId(1), instanceId(2), instanceId(3), instanceId(4)], members, [
      { instanceId: instanceId(3), tags: { "phoenix:quarantined": "c-1" } },
    ]);
    expect(result.live).toEqual([instanceId(1)]);
    expect(result.skipped.map((item) => item.why)).toEqual([
      "already Terminating:Wait",
      "quarantined",
      "no longer in the group",
    ]);
  });

  it("after a rollback restores the exact version string, sizes and desired capacity; resumes only what Phoenix paused", () => {
    const previous = {
      launchTemplate: { launchTemplateId: "lt-1", launchTemplateName: "web", version: "$Default" },
      minSize: 3,
      maxSize: 3,
      desiredCapacity: 3,
      suspendedProcesses: ["AlarmNotification"],
    };
    const current = group(3, {
      minSize: 3,
      maxSize: 4,
      desiredCapacity: 4,
      suspendedProcesses: ["AlarmNotification", "AZRebalance", "Launch"],
    });
    expect(restorationFor(previous, current, "rolled-back")).toEqual({
      update: {
        launchTemplate: { launchTemplateId: "lt-1", version: "$Default" },
        minSize: 3,
        maxSize: 3,
        desiredCapacity: 3,
      },
      resumeProcesses: ["AZRebalance"],
    });
  });

  it("after success keeps the new version and any scale-out, never setting MaxSize below desired", () => {
    const previous = {
      launchTemplate: { launchTemplateId: "lt-1", launchTemplateName: "web", version: "1" },
      minSize: 3,
      maxSize: 3,
      desiredCapacity: 3,
      suspendedProcesses: [],
    };
    expect(
      restorationFor(previous, group(3, { desiredCapacity: 5, maxSize: 6 }), "completed").update,
    ).toEqual({ minSize: 3, maxSize: 5 });
  });

  it("explains a failure from what the wave recorded", () => {
    expect(explainWaveFailure({ waveIndex: 2, verdict: { passed: false, reasons: ["http: down"] } })).toEqual(
      ["wave 2: http: down"],
    );
    expect(
      explainWaveFailure({ waveIndex: 0, readiness: { timedOut: true, waiting: ["i-1 initial"] } }),
    ).toEqual(["wave 0: not ready before the readiness timeout: i-1 initial"]);
    expect(
      explainWaveFailure({ waveIndex: 1, failure: { Error: "ThrottledError", Cause: "Rate exceeded" } }),
    ).toEqual(["wave 1: ThrottledError: Rate exceeded"]);
  });
});
