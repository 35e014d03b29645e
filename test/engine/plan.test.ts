import { describe, expect, it } from "vitest";
import {
  GroupNotManagedError,
  InstanceNotInGroupError,
  InvalidInputError,
  PolicyBreaksFloorError,
  UnsupportedGroupError,
} from "../../functions/engine/errors";
import { orderOldestFirstAcrossZones, planReplacement } from "../../functions/engine/plan";
import { parseOrThrow, ReplacementRequestSchema } from "../../functions/engine/policy";
import { fastTargetGroup, group, instance, instanceId, NEW_IMAGE, NOW, policy, target } from "../fixtures";

const plan = (
  size: number,
  policyOverrides: Record<string, unknown> = {},
  extra: Partial<Parameters<typeof planReplacement>[0]> = {},
) =>
  planReplacement({
    group: group(size),
    target,
    reason: "new-image",
    policy: policy(policyOverrides),
    targetGroups: [fastTargetGroup],
    now: NOW,
    ...extra,
  });

describe("wave planning and the healthy floor", () => {
  it.each([
    // size, maxSurge%, minHealthy%, canary, expected wave sizes, expected retire-first per wave
    { size: 10, surge: 10, minHealthy: 90, canary: false, waves: [2, 2, 2, 2, 2], first: [1, 1, 1, 1, 1] },
    { size: 10, surge: 100, minHealthy: 90, canary: false, waves: [10], first: [0] },
    { size: 10, surge: 100, minHealthy: 100, canary: false, waves: [10], first: [0] },
    { size: 12, surge: 25, minHealthy: 100, canary: false, waves: [3, 3, 3, 3], first: [0, 0, 0, 0] },
    { size: 12, surge: 25, minHealthy: 100, canary: true, waves: [1, 3, 3, 3, 2], first: [0, 0, 0, 0, 0] },
    { size: 10, surge: 0, minHealthy: 80, canary: false, waves: [2, 2, 2, 2, 2], first: [2, 2, 2, 2, 2] },
    // A non-zero surge always allows one instance, so a 3-instance group can still launch before terminating.
    { size: 3, surge: 25, minHealthy: 100, canary: false, waves: [1, 1, 1], first: [0, 0, 0] },
  ])("$size instances, surge $surge%, min healthy $minHealthy%, canary $canary", (row) => {
    const result = plan(row.size, {
      maxSurgePercent: row.surge,
      minHealthyPercent: row.minHealthy,
      canary: row.canary,
    });
    expect(result.waves.map((wave) => wave.launchCount)).toEqual(row.waves);
    expect(result.waves.map((wave) => wave.retireFirst.length)).toEqual(row.first);
    // Every instance is replaced exactly once.
    expect(result.waves.flatMap((wave) => wave.instanceIds).sort()).toEqual(
      group(row.size)
        .instances.map((i) => i.instanceId)
        .sort(),
    );
    // No wave ever takes healthy capacity below the floor or above desired + surge.
    for (const wave of result.waves) {
      expect(result.capacity.desired - wave.retireFirst.length).toBeGreaterThanOrEqual(result.capacity.floor);
      expect(wave.launchCount - wave.retireFirst.length).toBeLessThanOrEqual(result.capacity.surge);
      expect([...wave.retireFirst, ...wave.retireAfter]).toEqual(wave.instanceIds);
    }
  });

  it("10 instances at min healthy 90% and surge 10% replace at most 2 at a time", () => {
    const result = plan(10, { maxSurgePercent: 10, minHealthyPercent: 90 });
    expect(Math.max(...result.waves.map((wave) => wave.launchCount))).toBe(2);
    expect(result.capacity).toMatchObject({ desired: 10, floor: 9, surge: 1, unavailable: 1, batchSize: 2 });
  });

  it("refuses, naming both settings, a policy that allows no surge and no unavailable instance", () => {
    expect(() => plan(10, { maxSurgePercent: 0, minHealthyPercent: 100 })).toThrow(PolicyBreaksFloorError);
    expect(() => plan(10, { maxSurgePercent: 0, minHealthyPercent: 100 })).toThrow(
      /maxSurgePercent 0.*minHealthyPercent 100/,
    );
  });

  it("counts only healthy instances as spare: an unhealthy member shrinks what may go unavailable", () => {
    const sick = group(10);
    sick.instances[0] = instance(1, { healthStatus: "Unhealthy" });
    const result = planReplacement({
      group: sick,
      target,
      reason: "new-image",
      policy: policy({ maxSurgePercent: 0, minHealthyPercent: 80 }),
      targetGroups: [],
      now: NOW,
    });
    expect(result.capacity.unavailable).toBe(1);
    expect(Math.max(...result.waves.map((wave) => wave.retireFirst.length))).toBe(1);
  });

  it("raises MaxSize by the peak surge and lowers MinSize only as far as retire-first needs", () => {
    expect(plan(12, { maxSurgePercent: 25 }).capacity).toMatchObject({
      maxSizeNeeded: 15,
      minSizeNeeded: 12,
      peakSurge: 3,
      deepestDip: 0,
    });
    expect(plan(10, { maxSurgePercent: 0, minHealthyPercent: 80 }).capacity).toMatchObject({
      maxSizeNeeded: 10,
      minSizeNeeded: 8,
    });
  });

  it("estimates duration from health checks and draining", () => {
    const result = plan(12, { maxSurgePercent: 25, probes: { bakeSeconds: 60 } });
    // launch 25 + boot 30 + 2 checks x 5 s = 65 s ready; + 60 bake + 30 drain + 2 = 157 s per wave.
    expect(result.estimate).toMatchObject({
      readySeconds: 65,
      perWaveSeconds: 157,
      drainSeconds: 30,
      totalSeconds: 4 * 157,
    });
  });
});

describe("choosing instances", () => {
  it("orders oldest first while keeping zones balanced", () => {
    const instances = [
      instance(1, { availabilityZone: "a", ageHours: 10 }),
      instance(2, { availabilityZone: "a", ageHours: 50 }),
      instance(3, { availabilityZone: "a", ageHours: 40 }),
      instance(4, { availabilityZone: "b", ageHours: 90 }),
      instance(5, { availabilityZone: "b", ageHours: 5 }),
      instance(6, { availabilityZone: "c", ageHours: 60 }),
    ];
    // Always from the zone with the most left to replace, its oldest first; ties go to the older head.
    // a(3) -> 2; a(2) b(2) tie, b's head is older -> 4; a(2) -> 3; a b c tie at 1 -> 6 (60h), 1 (10h), 5 (5h).
    expect(orderOldestFirstAcrossZones(instances).map((i) => i.instanceId)).toEqual(
      [2, 4, 3, 6, 1, 5].map(instanceId),
    );
  });

  it("skips instances already on the target image, quarantined ones and those not in service", () => {
    const mixed = group(6);
    mixed.instances[0] = instance(1, { imageId: NEW_IMAGE, launchTemplateVersion: "2" });
    mixed.instances[1] = instance(2, { tags: { "phoenix:quarantined": "case-7" } });
    mixed.instances[2] = instance(3, { lifecycleState: "Pending" });
    const result = planReplacement({
      group: mixed,
      target,
      reason: "new-image",
      policy: policy(),
      targetGroups: [],
      now: NOW,
    });
    expect(result.instancesToReplace).toBe(3);
    expect(result.skipped).toEqual([
      { instanceId: instanceId(1), why: "already on target image" },
      { instanceId: instanceId(2), why: "quarantined" },
      { instanceId: instanceId(3), why: "lifecycle state Pending" },
    ]);
  });

  it("replaces exactly the named instances, and refuses names that are not replaceable members", () => {
    const result = plan(6, {}, { reason: "max-age", instanceIds: [instanceId(2), instanceId(5)] });
    expect(result.waves.flatMap((wave) => wave.instanceIds).sort()).toEqual([instanceId(2), instanceId(5)]);
    expect(() => plan(6, {}, { reason: "max-age", instanceIds: [instanceId(2), instanceId(99)] })).toThrow(
      InstanceNotInGroupError,
    );
  });

  it("plans nothing (no waves) when every instance is already on the target image", () => {
    const current = group(3, { instances: [1, 2, 3].map((n) => instance(n, { imageId: NEW_IMAGE })) });
    const result = planReplacement({
      group: current,
      target,
      reason: "new-image",
      policy: policy(),
      targetGroups: [],
      now: NOW,
    });
    expect(result.waves).toEqual([]);
    expect(result.instancesToReplace).toBe(0);
  });

  it("records the settings it must restore", () => {
    expect(plan(4).previous).toEqual({
      launchTemplate: { launchTemplateId: target.launchTemplateId, launchTemplateName: "web", version: "1" },
      minSize: 4,
      maxSize: 4,
      desiredCapacity: 4,
      suspendedProcesses: [],
    });
  });
});

describe("refusals change nothing and say why", () => {
  it("refuses a group not tagged phoenix:managed=true", () => {
    const unmanaged = group(3, { tags: { "phoenix:managed": "false" } });
    expect(() =>
      planReplacement({
        group: unmanaged,
        target,
        reason: "new-image",
        policy: policy(),
        targetGroups: [],
        now: NOW,
      }),
    ).toThrow(GroupNotManagedError);
  });

  it.each([
    [{ launchTemplate: undefined }, /no launch template/],
    [{ mixedInstancesPolicy: true }, /mixed instances/],
    [{ suspendedProcesses: ["Launch", "AZRebalance"] }, /Launch are suspended/],
  ])("refuses an unsupported group %o", (overrides, message) => {
    const odd = group(3, overrides);
    expect(() =>
      planReplacement({
        group: odd,
        target,
        reason: "new-image",
        policy: policy(),
        targetGroups: [],
        now: NOW,
      }),
    ).toThrow(UnsupportedGroupError);
    expect(() =>
      planReplacement({
        group: odd,
        target,
        reason: "new-image",
        policy: policy(),
        targetGroups: [],
        now: NOW,
      }),
    ).toThrow(message);
  });

  it.each([
    [{ groupName: "web", reason: "new-image", policy: { maxSurgePercent: 150 } }, "policy.maxSurgePercent"],
    [{ groupName: "web", reason: "refresh" }, "reason"],
    [{ reason: "new-image" }, "groupName"],
    [{ groupName: "web", reason: "manual", targetVersion: "$Latest" }, "targetVersion"],
    [{ groupName: "web", reason: "manual", instanceIds: ["i-123"] }, "instanceIds[0]"],
    [
      { groupName: "web", reason: "manual", policy: { probes: { http: { path: "health" } } } },
      "policy.probes.http.path",
    ],
    [{ groupName: "web", reason: "manual", surprise: true }, "(root)"],
  ])("rejects request %o naming %s", (request, field) => {
    let error: unknown;
    try {
      parseOrThrow(ReplacementRequestSchema, request, "replacement request");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toContain(`${field}:`);
  });
});
