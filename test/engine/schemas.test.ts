// The shapes Phoenix accepts: requests, policies (and the group's policy tag), and the data its state
// machines carry between steps. Each refusal names the field.
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../functions/engine/errors";
import { planReplacement } from "../../functions/engine/plan";
import {
  GroupNameSchema,
  groupPolicy,
  InstanceIdSchema,
  parseOrThrow,
  ReplacementRequestSchema,
  RolloutPolicySchema,
  SUSPENDABLE_PROCESSES,
  toFieldIssues,
} from "../../functions/engine/policy";
import {
  FailureSchema,
  PreparedSchema,
  ReplacementPlanSchema,
  StepSchema,
  WaveLaunchSchema,
  WaveStartSchema,
} from "../../functions/engine/schemas";
import { fastTargetGroup, group, NOW, policy, target } from "../fixtures";

const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidInputError) return error.message;
    throw error;
  }
  return "accepted";
};

describe("rollout policies", () => {
  it("default to a 25% surge, 100% healthy, no canary, 15 s polls for up to 15 minutes, no probes", () => {
    expect(RolloutPolicySchema.parse({})).toEqual({
      maxSurgePercent: 25,
      minHealthyPercent: 100,
      canary: false,
      readiness: { pollSeconds: 15, timeoutSeconds: 900 },
      probes: { alarms: [], bakeSeconds: 0 },
      suspendProcesses: ["AZRebalance", "ScheduledActions"],
    });
    expect(RolloutPolicySchema.parse({ probes: { http: { path: "/health" } } }).probes.http).toEqual({
      path: "/health",
      port: 80,
      expectedStatus: 200,
      timeoutSeconds: 5,
    });
  });

  it("suspend only processes that cannot stop a rollout", () => {
    expect(SUSPENDABLE_PROCESSES).toEqual([
      "AZRebalance",
      "AlarmNotification",
      "ScheduledActions",
      "ReplaceUnhealthy",
      "InstanceRefresh",
    ]);
    expect(RolloutPolicySchema.safeParse({ suspendProcesses: ["Launch"] }).success).toBe(false);
  });

  it("come from the group's phoenix:policy tag, with the defaults for what it leaves out", () => {
    expect(groupPolicy({})).toEqual(RolloutPolicySchema.parse({}));
    expect(groupPolicy({ "phoenix:policy": '{"canary":true,"maxSurgePercent":50}' })).toMatchObject({
      canary: true,
      maxSurgePercent: 50,
      minHealthyPercent: 100,
    });
    expect(refusal(() => groupPolicy({ "phoenix:policy": "{canary" }))).toBe(
      "Invalid group policy: phoenix:policy: is not JSON",
    );
    expect(refusal(() => groupPolicy({ "phoenix:policy": '{"maxSurgePercent":300}' }))).toMatch(
      /^Invalid phoenix:policy tag: maxSurgePercent: /,
    );
  });
});

describe("requests and ids", () => {
  it("accept ids and names as AWS writes them", () => {
    expect(InstanceIdSchema.safeParse("i-0123456789abcdef0").success).toBe(true);
    expect(InstanceIdSchema.safeParse("i-01234567").success).toBe(true);
    expect(InstanceIdSchema.safeParse("i-0123456789").error?.issues[0]?.message).toBe(
      "not an EC2 instance id",
    );
    expect(InstanceIdSchema.safeParse("xi-01234567").success).toBe(false);
    expect(InstanceIdSchema.safeParse("i-01234567x").success).toBe(false);
    expect(GroupNameSchema.safeParse("web prod (eu)").success).toBe(true);
    expect(GroupNameSchema.safeParse("").success).toBe(false);
    expect(GroupNameSchema.safeParse("web\u0007prod").error?.issues[0]?.message).toBe(
      "not a valid Auto Scaling group name",
    );
  });

  it("take an explicit version number only", () => {
    const parse = (targetVersion: string) =>
      ReplacementRequestSchema.safeParse({ groupName: "web", reason: "manual", targetVersion });
    expect(parse("12").success).toBe(true);
    expect(parse("0").error?.issues[0]?.message).toBe(
      "must be an explicit version number, never $Latest or $Default",
    );
    expect(parse("1x").success).toBe(false);
    expect(parse("x1").success).toBe(false);
    expect(ReplacementRequestSchema.parse({ groupName: "web", reason: "drift" }).dryRun).toBe(false);
  });

  it("name each bad field by its dotted path, array indexes in brackets", () => {
    const result = ReplacementRequestSchema.safeParse({
      groupName: "web",
      reason: "manual",
      instanceIds: ["i-01234567", "bad"],
      policy: { readiness: { pollSeconds: 0 } },
    });
    expect(toFieldIssues(result.error as never).map((issue) => issue.path)).toEqual([
      "instanceIds[1]",
      "policy.readiness.pollSeconds",
    ]);
    expect(refusal(() => parseOrThrow(ReplacementRequestSchema, { reason: "manual" }))).toBe(
      "Invalid input: groupName: required",
    );
    expect(parseOrThrow(FailureSchema, { Error: "E" })).toEqual({ Error: "E" });
  });
});

describe("what the replace-group state machine carries", () => {
  const plan = planReplacement({
    group: group(4),
    target,
    reason: "new-image",
    policy: policy(),
    targetGroups: [fastTargetGroup],
    now: NOW,
  });

  it("a plan survives the trip between steps unchanged, and a damaged one is refused", () => {
    expect(ReplacementPlanSchema.parse(plan)).toEqual(plan);
    for (const damaged of [
      { ...plan, target: { ...plan.target, version: "$Latest" } },
      { ...plan, target: { ...plan.target, version: "01" } },
      { ...plan, target: { ...plan.target, imageId: "" } },
      { ...plan, target: { ...plan.target, launchTemplateId: "" } },
      {
        ...plan,
        previous: { ...plan.previous, launchTemplate: { ...plan.previous.launchTemplate, version: "" } },
      },
      { ...plan, waves: [{ ...plan.waves[0], instanceIds: [] }] },
      { ...plan, waves: [{ ...plan.waves[0], launchCount: 0 }] },
      { ...plan, leaseSeconds: 59 },
      { ...plan, plannedAt: "today" },
      { ...plan, capacity: { ...plan.capacity, floor: -1 } },
      { ...plan, estimate: { ...plan.estimate, totalSeconds: -1 } },
      { ...plan, continuation: { instanceIds: [] } },
    ])
      expect(ReplacementPlanSchema.safeParse(damaged).success).toBe(false);
    expect(
      ReplacementPlanSchema.parse({ ...plan, target: { ...plan.target, version: "10" } }).target.version,
    ).toBe("10");
  });

  it("step inputs and records are checked too", () => {
    expect(StepSchema.safeParse({ executionId: "", groupName: "web" }).success).toBe(false);
    expect(StepSchema.safeParse({ executionId: "arn", groupName: "web" }).success).toBe(true);
    const launch = {
      launchedAt: NOW.toISOString(),
      deadline: NOW.toISOString(),
      baselineIds: [],
      launchCount: 1,
      desiredBefore: 3,
      desiredAfter: 4,
      nextCheckSeconds: 0,
    };
    expect(WaveLaunchSchema.safeParse(launch).success).toBe(true);
    expect(WaveLaunchSchema.safeParse({ ...launch, launchCount: 0 }).success).toBe(false);
    expect(WaveLaunchSchema.safeParse({ ...launch, nextCheckSeconds: -1 }).success).toBe(false);
    expect(
      WaveStartSchema.safeParse({
        startedAt: NOW.toISOString(),
        baselineIds: [],
        desiredBefore: 3,
        launchCount: 0,
        gone: [],
      }).success,
    ).toBe(true);
    expect(
      PreparedSchema.safeParse({
        preparedAt: "now",
        pinnedVersion: "2",
        maxSize: 4,
        minSize: 3,
        suspendedByPhoenix: [],
      }).success,
    ).toBe(false);
  });
});
