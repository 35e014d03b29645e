// The simulated AWS itself: it must behave the way DESIGN.md says AWS does, or the end-to-end tests prove
// nothing.
import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import { buildWorld, loadScenario } from "../../local/scenario";
import { createSimClients } from "../../local/sim/clients";
import { SimClock } from "../../local/sim/clock";
import type { SimWorld } from "../../local/sim/world";

type Scenario = ReturnType<typeof loadScenario>;
/** The default scenario's first group, for edits. */
const firstGroup = (scenario: Scenario) => scenario.groups[0] as Scenario["groups"][number];
const secondImage = (scenario: Scenario) => scenario.images[1] as Scenario["images"][number];

const world = (edit: (scenario: Scenario) => void = () => {}) => {
  const scenario = loadScenario("default");
  edit(scenario);
  return buildWorld(scenario);
};
const members = (w: SimWorld) => w.activeMembers(w.requireGroup("web-prod"));
const newest = (w: SimWorld) => [...w.instances.values()].sort((a, b) => b.launchTime - a.launchTime)[0];

describe("simulated clock", () => {
  it("runs events in time order, ties in scheduling order, and skips cancelled ones", () => {
    const clock = new SimClock(0);
    const seen: string[] = [];
    clock.schedule(20, () => seen.push("b"));
    clock.schedule(10, () => seen.push("a"));
    clock.schedule(20, () => seen.push("c"));
    clock.schedule(15, () => seen.push("x")).cancel();
    clock.schedule(5, () => clock.schedule(1, () => seen.push("nested")));
    clock.advanceBy(19);
    expect(seen).toEqual(["nested", "a"]);
    clock.advanceBy(1);
    expect(seen).toEqual(["nested", "a", "b", "c"]);
    expect(clock.now()).toBe(20);
  });
});

describe("Auto Scaling", () => {
  it("rejects SetDesiredCapacity above MaxSize with a ValidationError, as AWS does", async () => {
    const w = world();
    const { clients } = createSimClients(w);
    const client = clients.autoScaling as AutoScalingClient;
    await expect(
      client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "web-prod", DesiredCapacity: 13 })),
    ).rejects.toMatchObject({
      name: "ValidationError",
      message: expect.stringContaining("above max value 12"),
    });
  });

  it("launches from the launch template version resolved at launch time", () => {
    const w = world((scenario) => {
      firstGroup(scenario).version = "$Latest";
      firstGroup(scenario).maxSize = 14;
    });
    const group = w.requireGroup("web-prod");
    w.setDesired(group, 13, "test");
    w.clock.advanceBy(15_000);
    expect(newest(w)?.launchTemplate?.version).toBe("2");
    // A new version published later is what the next launch uses.
    const template = [...w.launchTemplates.values()][0];
    template?.versions.set(3, {
      versionNumber: 3,
      imageId: "ami-0c1d2e3f4a5b60001",
      instanceType: "t4g.small",
      createdAt: 0,
      securityGroupIds: [],
      tagSpecifications: {},
    });
    if (template) template.latestVersion = 3;
    w.setDesired(group, 14, "test");
    w.clock.advanceBy(15_000);
    expect(newest(w)?.launchTemplate?.version).toBe("3");
  });

  it("takes an instance InService, then healthy after HealthyThresholdCount checks once it boots", () => {
    const w = world((scenario) => {
      firstGroup(scenario).maxSize = 13;
      secondImage(scenario).bootSeconds = [20, 20];
      scenario.timing = {
        launchJitter: 0,
        asgReactSeconds: [5, 5],
        launchApiSeconds: 5,
        pendingToRunningSeconds: 18,
      };
    });
    const group = w.requireGroup("web-prod");
    group.launchTemplate.version = "2";
    const start = w.clock.now();
    w.setDesired(group, 13, "test");
    const marks: Record<string, number> = {};
    w.onLog((entry) => {
      if (entry.kind === "instance-in-service" || entry.kind === "target-healthy")
        marks[entry.kind] = (entry.at - start) / 1000;
    });
    w.clock.advanceBy(120_000);
    // 5 s to react + 5 s API + 18 s pending -> running: InService at 28 s. Boot 20 s: answers at 48 s.
    // Checks every 5 s from registration (33, 38, ... 48, 53): 2 consecutive passes -> healthy at 53 s.
    expect(marks).toEqual({ "instance-in-service": 28, "target-healthy": 53 });
  });

  it("never gets an instance of a bad image healthy", () => {
    const w = world((scenario) => {
      firstGroup(scenario).maxSize = 13;
      secondImage(scenario).good = false;
    });
    const group = w.requireGroup("web-prod");
    group.launchTemplate.version = "2";
    group.suspendedProcesses.add("ReplaceUnhealthy");
    w.setDesired(group, 13, "test");
    w.clock.advanceBy(3600_000);
    expect(w.healthyInService("web-prod")).toHaveLength(12);
    expect(w.log.some((entry) => entry.kind === "target-unhealthy")).toBe(true);
  });

  it("drains a registered instance for the deregistration delay before terminating it", async () => {
    const w = world();
    const { clients } = createSimClients(w);
    const victim = members(w)[0]?.instanceId as string;
    const start = w.clock.now();
    await (clients.autoScaling as AutoScalingClient).send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: victim,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    w.clock.advanceBy(29_000);
    expect(w.requireInstance(victim).state).toBe("running");
    w.clock.advanceBy(1_000);
    expect(w.requireInstance(victim).state).toBe("shutting-down");
    w.clock.advanceBy(60_000);
    expect(w.requireInstance(victim).state).toBe("terminated");
    expect((w.requireInstance(victim).drainedAt as number) - start).toBeGreaterThanOrEqual(30_000);
    // Not decremented: the group launched a replacement.
    expect(members(w)).toHaveLength(12);
    expect(members(w).map((i) => i.instanceId)).not.toContain(victim);
  });

  it("refuses to decrement below MinSize", async () => {
    const w = world();
    const { clients } = createSimClients(w);
    const victim = members(w)[0]?.instanceId as string;
    await expect(
      (clients.autoScaling as AutoScalingClient).send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: victim,
          ShouldDecrementDesiredCapacity: true,
        }),
      ),
    ).rejects.toMatchObject({ name: "ValidationError" });
  });

  it("scales in zone-balanced and never picks a protected instance", () => {
    const w = world((scenario) => {
      firstGroup(scenario).minSize = 0;
    });
    const group = w.requireGroup("web-prod");
    const protectedIds = members(w)
      .slice(0, 9)
      .map((i) => i.instanceId);
    for (const id of protectedIds) w.requireInstance(id).protectedFromScaleIn = true;
    w.setDesired(group, 9, "test");
    w.clock.advanceBy(600_000);
    expect(
      members(w)
        .map((i) => i.instanceId)
        .sort(),
    ).toEqual([...protectedIds].sort());
  });
});

describe("API limits and paging", () => {
  it("throttles EC2 Describe calls past the bucket with RequestLimitExceeded", async () => {
    const w = world();
    w.timing.apiLatencyMs = [0, 0];
    const { clients } = createSimClients(w);
    const ec2 = clients.ec2 as EC2Client;
    const results = await Promise.allSettled(
      Array.from({ length: 110 }, () => ec2.send(new DescribeInstancesCommand({}))),
    );
    const throttled = results.filter((result) => result.status === "rejected");
    expect(throttled.length).toBe(10);
    expect((throttled[0] as PromiseRejectedResult).reason.name).toBe("RequestLimitExceeded");
    expect(w.throttled.get("ec2:DescribeInstances")).toBe(10);
    // The bucket refills at 20 per second.
    w.clock.advanceBy(1000);
    await expect(ec2.send(new DescribeInstancesCommand({}))).resolves.toBeDefined();
  });

  it("pages DescribeAutoScalingGroups", async () => {
    const w = world((scenario) => {
      scenario.groups = Array.from(
        { length: 3 },
        (_, n) =>
          ({
            ...scenario.groups[0],
            name: `web-${n}`,
            desiredCapacity: 1,
            minSize: 1,
            maxSize: 1,
            instances: [{ count: 1, launchTemplateVersion: "1", ageHours: [5, 5] }],
          }) as (typeof scenario.groups)[0],
      );
    });
    const { clients } = createSimClients(w);
    const client = clients.autoScaling as AutoScalingClient;
    const first = await client.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 2 }));
    const second = await client.send(
      new DescribeAutoScalingGroupsCommand({ MaxRecords: 2, NextToken: first.NextToken }),
    );
    expect(
      [...(first.AutoScalingGroups ?? []), ...(second.AutoScalingGroups ?? [])].map(
        (g) => g.AutoScalingGroupName,
      ),
    ).toEqual(["web-0", "web-1", "web-2"]);
    expect(second.NextToken).toBeUndefined();
  });
});
