// The simulated Instance Refresh follows AWS's documented algorithm (see local/sim/instance-refresh.ts):
// batches within the min/max healthy range, the next only after the previous is healthy and warmed up,
// skip matching, checkpoints, one refresh per group, cancel, and rollback.
import {
  type AutoScalingClient,
  CancelInstanceRefreshCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
  type RefreshPreferences,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import { describe, expect, it } from "vitest";
import { scaleScenario } from "../../local/scale";
import { buildWorld, type Scenario } from "../../local/scenario";
import { createSimClients } from "../../local/sim/clients";
import type { SimWorld } from "../../local/sim/world";

/** A group of `instances` on version 1 behind a target group (5 s x 2 checks, 30 s draining), room to surge. */
function fleet(instances: number, edit: (scenario: Scenario) => void = () => {}) {
  const scenario = scaleScenario({ instances });
  edit(scenario);
  const world = buildWorld(scenario);
  const group = world.requireGroup("big0");
  group.maxSize = instances * 2;
  const client = createSimClients(world).clients.autoScaling as AutoScalingClient;
  // What the group serves and holds at every change, as the account has it.
  const seen = { lowestServing: Number.POSITIVE_INFINITY, peakActive: 0 };
  world.onChange(() => {
    seen.lowestServing = Math.min(seen.lowestServing, world.servingCount("big0"));
    seen.peakActive = Math.max(seen.peakActive, world.census.active("big0"));
  });
  return { world, group, client, seen };
}

async function start(client: AutoScalingClient, preferences: RefreshPreferences, version = "2") {
  return client.send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: "big0",
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateName: "app", Version: version } },
      Preferences: preferences,
    }),
  );
}

async function describeLatest(client: AutoScalingClient): Promise<InstanceRefresh> {
  const answer = await client.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "big0" }));
  return answer.InstanceRefreshes?.[0] as InstanceRefresh;
}

/** Advances the clock a second at a time until the refresh ends (or `limit` seconds pass). */
async function untilDone(world: SimWorld, client: AutoScalingClient, limit = 20_000) {
  for (let second = 0; second < limit; second++) {
    const refresh = await describeLatest(client);
    if (
      !["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"].includes(refresh.Status ?? "")
    )
      return refresh;
    world.clock.advanceBy(1000);
  }
  throw new Error("the refresh did not end");
}

const versions = (world: SimWorld) =>
  world
    .activeMembers(world.requireGroup("big0"))
    .map((instance) => instance.launchTemplate?.version)
    .sort();

/** Each launch time of a new instance, and when each new one entered service, in seconds from `t0`. */
function launchesAndReady(world: SimWorld, t0: number) {
  const launched = world.log
    .filter((entry) => entry.kind === "instance-launched")
    .map((e) => (e.at - t0) / 1000);
  const inService = world.log
    .filter((entry) => entry.kind === "instance-in-service")
    .map((e) => (e.at - t0) / 1000);
  return { launched, inService };
}

describe("instance refresh", () => {
  it("launches before terminating when MaxHealthyPercentage is above 100, a batch at a time", async () => {
    const { world, group, client, seen } = fleet(10);
    const t0 = world.clock.now();
    await start(client, { MinHealthyPercentage: 100, MaxHealthyPercentage: 150, InstanceWarmup: 60 });
    const refresh = await untilDone(world, client);
    expect(refresh).toMatchObject({ Status: "Successful", PercentageComplete: 100, InstancesToUpdate: 0 });
    expect(versions(world)).toEqual(Array(10).fill("2"));
    // The group's configuration becomes the desired one when the refresh succeeds.
    expect(group.launchTemplate.version).toBe("2");
    expect(seen.lowestServing).toBeGreaterThanOrEqual(10);
    expect(seen.peakActive).toBeLessThanOrEqual(15);
    // Batches of 5: the second launches only after every instance of the first has served its warmup.
    const { launched, inService } = launchesAndReady(world, t0);
    expect(launched).toHaveLength(10);
    const firstBatchWarm = Math.max(...inService.slice(0, 5)) + 60;
    expect(Math.min(...launched.slice(5))).toBeGreaterThanOrEqual(firstBatchWarm);
  });

  it("terminates then launches at AWS's defaults (90%, 100%, warmup = health check grace period)", async () => {
    const { world, client, seen } = fleet(10);
    const t0 = world.clock.now();
    await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "big0",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateName: "app", Version: "2" } },
      }),
    );
    const refresh = await untilDone(world, client);
    expect(refresh.Preferences).toMatchObject({
      MinHealthyPercentage: 90,
      MaxHealthyPercentage: 100,
      InstanceWarmup: 300,
      SkipMatching: false,
      AutoRollback: false,
    });
    expect(refresh.Status).toBe("Successful");
    expect(seen.lowestServing).toBe(9);
    expect(seen.peakActive).toBeLessThanOrEqual(10);
    // One at a time, each after the previous one's 300 s warmup.
    const { launched, inService } = launchesAndReady(world, t0);
    for (let n = 1; n < 10; n++)
      expect(launched[n] as number).toBeGreaterThanOrEqual((inService[n - 1] as number) + 300);
  });

  it("skips instances already on the desired configuration with SkipMatching", async () => {
    const { world, client } = fleet(10, (scenario) => {
      const group = scenario.groups[0] as Scenario["groups"][number];
      // A cohort as the scenario file's defaults make it (an EBS root, no data volumes, no public address).
      const plain = { rootDeviceType: "ebs" as const, dataVolumes: [], ipv6: 0, publicIp: false };
      group.instances = [
        { count: 4, launchTemplateVersion: "2", ageHours: [1, 2], ...plain },
        { count: 6, launchTemplateVersion: "1", ageHours: [10, 500], ...plain },
      ];
    });
    const untouched = world.requireGroup("big0").instanceIds.slice(0, 4);
    await start(client, { SkipMatching: true, MinHealthyPercentage: 100, MaxHealthyPercentage: 200 });
    const refresh = await untilDone(world, client);
    expect(refresh.Status).toBe("Successful");
    expect(world.log.filter((entry) => entry.kind === "instance-launched")).toHaveLength(6);
    for (const id of untouched) expect(world.requireInstance(id).lifecycleState).toBe("InService");
  });

  it("pauses at a checkpoint for CheckpointDelay, then goes on", async () => {
    const { world, client } = fleet(10);
    const t0 = world.clock.now();
    await start(client, {
      MinHealthyPercentage: 100,
      MaxHealthyPercentage: 200,
      InstanceWarmup: 0,
      CheckpointPercentages: [30, 100],
      CheckpointDelay: 600,
    });
    world.clock.advanceBy(200_000);
    expect(await describeLatest(client)).toMatchObject({ Status: "InProgress", PercentageComplete: 30 });
    const refresh = await untilDone(world, client);
    expect(refresh.Status).toBe("Successful");
    // Cut at the checkpoint (3 of 10, not 10 at once), the rest after the delay.
    const { launched } = launchesAndReady(world, t0);
    expect(launched.filter((time) => time < 600)).toHaveLength(3);
    expect(Math.min(...launched.slice(3))).toBeGreaterThan(600);
  });

  it("runs one refresh per group, and a cancelled one replaces nothing more", async () => {
    const { world, client } = fleet(10);
    await start(client, { MinHealthyPercentage: 90, InstanceWarmup: 30 });
    await expect(start(client, {})).rejects.toMatchObject({ name: "InstanceRefreshInProgress" });
    world.clock.advanceBy(20_000);
    await client.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "big0" }));
    const refresh = await untilDone(world, client);
    expect(refresh.Status).toBe("Cancelled");
    world.clock.advanceBy(3600_000);
    expect(versions(world).filter((version) => version === "2")).toHaveLength(1);
    await expect(
      client.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "big0" })),
    ).rejects.toMatchObject({ name: "ActiveInstanceRefreshNotFound" });
  });

  it("fails on an image that never gets healthy, and rolls back to the previous version with AutoRollback", async () => {
    const badImage = (scenario: Scenario) => {
      (scenario.images[1] as Scenario["images"][number]).good = false;
      (scenario.groups[0] as Scenario["groups"][number]).healthCheckGracePeriod = 60;
    };
    const failing = fleet(10, badImage);
    await start(failing.client, { MinHealthyPercentage: 90, InstanceWarmup: 30 });
    expect(await untilDone(failing.world, failing.client)).toMatchObject({ Status: "Failed" });

    const { world, group, client, seen } = fleet(10, badImage);
    group.launchTemplate.version = "1";
    await start(client, {
      MinHealthyPercentage: 100,
      MaxHealthyPercentage: 120,
      InstanceWarmup: 30,
      AutoRollback: true,
    });
    const refresh = await untilDone(world, client);
    expect(refresh.Status).toBe("RollbackSuccessful");
    world.clock.advanceBy(600_000);
    expect(versions(world)).toEqual(Array(10).fill("1"));
    expect(group.launchTemplate.version).toBe("1");
    expect(seen.lowestServing).toBeGreaterThanOrEqual(10);
  });

  it("refuses bad preferences, naming the field, and changes nothing", async () => {
    const { world, client } = fleet(4);
    await expect(start(client, { MaxHealthyPercentage: 250 })).rejects.toMatchObject({
      name: "ValidationError",
      message: expect.stringContaining("MaxHealthyPercentage"),
    });
    await expect(
      start(client, { MinHealthyPercentage: 50, MaxHealthyPercentage: 200 }),
    ).rejects.toMatchObject({
      name: "ValidationError",
    });
    // AutoRollback needs a numbered version on the group (this one uses "1": allowed) and a desired configuration.
    await expect(
      client.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: "big0",
          Preferences: { AutoRollback: true },
        }),
      ),
    ).rejects.toMatchObject({ name: "ValidationError" });
    world.clock.advanceBy(600_000);
    expect(world.log.filter((entry) => entry.kind === "instance-launched")).toHaveLength(0);
  });
});
