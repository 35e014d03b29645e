import { describe, expect, it } from "vitest";
import { restorationFor, settleCapacity } from "../../functions/engine/restore";
import type { TargetHealth } from "../../functions/engine/types";
import {
  assessReadiness,
  chooseRollbackTerminations,
  explainWaveFailure,
  floorVerdict,
  judgeProbes,
  liveMembers,
  nextCheckDelay,
  planReap,
  readinessSchedule,
  servingMembers,
  type WaveLaunch,
  waveAtStart,
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
      readySeconds: 65,
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
      readySeconds: 65,
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
      readySeconds: 65,
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
      readySeconds: 65,
    };
    expect(assessReadiness({ ...args, now: at(599) }).timedOut).toBe(false);
    expect(assessReadiness({ ...args, now: at(600) }).timedOut).toBe(true);
    expect(nextCheckDelay(15, at(600).toISOString(), at(595))).toBe(6);
  });

  it("checks often around the estimated ready time and backs off after, so a slow wave costs few checks", () => {
    expect(readinessSchedule.first(64)).toBe(48);
    expect(readinessSchedule.next(5, 64, 60)).toBe(5);
    expect(readinessSchedule.next(5, 64, 200)).toBe(50);
    // A 900 s timeout polled every 5 s would be 180 checks; the schedule makes about 35.
    expect(readinessSchedule.checksAtMost(5, 64, 900)).toBeLessThanOrEqual(40);
    expect(readinessSchedule.checksAtMost(15, 64, 900)).toBeLessThan(
      readinessSchedule.checksAtMost(5, 64, 900),
    );
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
  it("terminates retired instances once Auto Scaling detached them (drained), waits for the others", () => {
    const members = group(2, {
      instances: [instance(1, { lifecycleState: "Detaching" }), instance(9)],
    });
    const retiring = [1, 2, 3, 4].map((n) => ({
      instanceId: instanceId(n),
      state: n === 3 ? "shutting-down" : "running",
      tags: (n === 4 ? { "phoenix:quarantined": "c-1" } : {}) as Record<string, string>,
    }));
    expect(planReap(retiring, members)).toEqual({ terminate: [instanceId(2)], waiting: [instanceId(1)] });
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

  it("a wave launches only for its instances still there at its start", () => {
    const members = group(3, { instances: [instance(1), instance(2)] });
    const standing = waveAtStart({ instanceIds: [instanceId(1), instanceId(2), instanceId(3)] }, members, [
      { instanceId: instanceId(2), tags: { "phoenix:quarantined": "c-1" } },
    ]);
    expect(standing).toEqual({
      liveIds: [instanceId(1)],
      launchCount: 1,
      gone: [
        { instanceId: instanceId(2), why: "quarantined" },
        { instanceId: instanceId(3), why: "no longer in the group" },
      ],
    });
  });

  it("counts as serving only InService, Healthy instances healthy in every target group", () => {
    const members = group(4, {
      instances: [instance(1), instance(2, { healthStatus: "Unhealthy" }), instance(3), instance(4)],
    });
    const health: TargetHealth[] = [1, 2, 3].map((n) => ({
      targetGroupArn: TG_ARN,
      instanceId: instanceId(n),
      state: n === 3 ? "initial" : "healthy",
    }));
    expect(servingMembers(members, health)).toEqual([instanceId(1)]);
  });

  it("lets instances go out of service only while the floor holds, counting what else is out", () => {
    const serving = [instanceId(1), instanceId(2), instanceId(3)];
    expect(floorVerdict(serving, [instanceId(1)], 2)).toMatchObject({ allowed: true, remaining: 2 });
    expect(floorVerdict(serving, [instanceId(1), instanceId(9)], 2)).toMatchObject({ allowed: true });
    expect(floorVerdict(serving, [instanceId(1), instanceId(2)], 2)).toEqual({
      allowed: false,
      remaining: 1,
      reason: "taking 2 out of service would leave 1 healthy in service; the floor is 2",
    });
  });

  it("a rollback terminates new instances that do not serve, and serving ones only while the floor holds", () => {
    // Old 1 is back in service, old 2 was quarantined: new 11 stands in for it until capacity settles.
    const serving = [instanceId(1), instanceId(10), instanceId(11)];
    expect(chooseRollbackTerminations([instanceId(10), instanceId(11), instanceId(12)], serving, 2)).toEqual({
      terminate: [instanceId(12), instanceId(10)],
      keep: [instanceId(11)],
    });
    expect(chooseRollbackTerminations([instanceId(10), instanceId(11)], serving, 1)).toEqual({
      terminate: [instanceId(10), instanceId(11)],
      keep: [],
    });
  });

  it("after a rollback restores the exact version string and sizes that hold desired capacity; resumes only what Phoenix paused", () => {
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
    // Desired capacity is still 4 (a stand-in was kept for the floor): MaxSize stays 4 until it settles.
    expect(restorationFor(previous, current, "rolled-back")).toEqual({
      update: {
        launchTemplate: { launchTemplateId: "lt-1", version: "$Default" },
        minSize: 3,
        maxSize: 4,
      },
      resumeProcesses: ["AZRebalance"],
    });
  });

  it("keeps ReplaceUnhealthy suspended while a quarantined instance is still in the group (in service or detaching)", () => {
    const previous = {
      launchTemplate: { launchTemplateId: "lt-1", launchTemplateName: "web", version: "1" },
      minSize: 3,
      maxSize: 3,
      desiredCapacity: 3,
      suspendedProcesses: [],
    };
    const suspended = ["ReplaceUnhealthy", "AZRebalance"];
    const withSuspect = (lifecycleState: string) =>
      group(3, {
        suspendedProcesses: suspended,
        instances: [
          instance(1),
          instance(2),
          instance(3, { lifecycleState, tags: { "phoenix:quarantined": "IR-1" } }),
        ],
      });
    for (const mode of ["completed", "rolled-back"] as const) {
      expect(restorationFor(previous, withSuspect("InService"), mode).resumeProcesses).toEqual([
        "AZRebalance",
      ]);
      expect(restorationFor(previous, withSuspect("Detaching"), mode).resumeProcesses).toEqual([
        "AZRebalance",
      ]);
      // Once it is terminating (disposed of) or gone, nothing holds them back.
      expect(restorationFor(previous, withSuspect("Terminating"), mode).resumeProcesses).toEqual(suspended);
      expect(
        restorationFor(previous, group(3, { suspendedProcesses: suspended }), mode).resumeProcesses,
      ).toEqual(suspended);
    }
  });

  it("settles desired capacity back at once when raising it, or when the floor survives Auto Scaling's choice", () => {
    const previous = {
      launchTemplate: { launchTemplateId: "lt-1", launchTemplateName: "web", version: "1" },
      minSize: 3,
      maxSize: 4,
      desiredCapacity: 4,
      suspendedProcesses: [],
    };
    const exactly = { minSize: 3, maxSize: 4, desiredCapacity: 4 };
    expect(
      settleCapacity({ previous, current: { desiredCapacity: 3 }, serving: 3, floor: 4, strays: [] }),
    ).toEqual({
      action: "set",
      terminate: [],
      update: exactly,
      surplus: -1,
    });
    expect(
      settleCapacity({ previous, current: { desiredCapacity: 5 }, serving: 5, floor: 4, strays: [] }),
    ).toEqual({
      action: "set",
      terminate: [],
      update: exactly,
      surplus: 1,
    });
  });

  it("waits to lower desired capacity while Auto Scaling could pick a serving instance the floor needs", () => {
    const previous = {
      launchTemplate: { launchTemplateId: "lt-1", launchTemplateName: "web", version: "1" },
      minSize: 2,
      maxSize: 2,
      desiredCapacity: 2,
      suspendedProcesses: [],
    };
    const settlement = settleCapacity({
      previous,
      current: { desiredCapacity: 3 },
      serving: 2,
      floor: 2,
      strays: [],
    });
    expect(settlement).toMatchObject({ action: "wait", surplus: 1 });
    expect(settlement.action === "wait" && settlement.reason).toBe(
      "lowering desired capacity 3 -> 2 could leave 1 healthy in service; the floor is 2",
    );
  });

  it("settles a surplus the rollout launched and that serves nothing by terminating exactly those, at once", () => {
    const previous = {
      launchTemplate: { launchTemplateId: "lt-1", launchTemplateName: "web", version: "1" },
      minSize: 2,
      maxSize: 3,
      desiredCapacity: 2,
      suspendedProcesses: [],
    };
    const stray = instanceId(7);
    expect(
      settleCapacity({
        previous,
        current: { desiredCapacity: 3 },
        serving: 2,
        floor: 2,
        strays: [stray, instanceId(8)],
      }),
    ).toEqual({
      action: "set",
      terminate: [stray],
      update: { minSize: 2, maxSize: 3, desiredCapacity: 2 },
      surplus: 1,
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
