// Rotations on the simulator, each judged against the honest floor (floor.ts) of the same fleet and seed:
// Phoenix through its real state machine and handlers, and AWS Instance Refresh as the simulator models it
// (local/sim/instance-refresh.ts), tuned and at AWS's defaults. Every engine meets the same account: the
// same instances, the same launch draws in launch order, the same Auto Scaling, EC2 and load balancer.
import { type AutoScalingClient, StartInstanceRefreshCommand } from "@aws-sdk/client-auto-scaling";
import { type ScaleOptions, scaleScenario } from "../local/scale";
import { buildWorld, type Scenario } from "../local/scenario";
import { createSimClients } from "../local/sim/clients";
import { instanceRefreshesOf } from "../local/sim/instance-refresh";
import { launchDrawsFor } from "../local/sim/launch-draws";
import { DEFAULT_BUCKETS, DEFAULT_TIMING, type SimTiming } from "../local/sim/model";
import type { SimWorld } from "../local/sim/world";
import { Simulation } from "../local/simulation";
import type { ExecutionOutcome } from "../local/state-machine";
import { type Floor, type FloorModel, slotRefillingFloor } from "./floor";

/** One rollout policy of the table: the capacity constraints every engine of a row works under. */
export interface PolicyCase {
  label: string;
  maxSurgePercent: number;
  minHealthyPercent: number;
}

export const POLICIES: PolicyCase[] = [
  { label: "surge 25%", maxSurgePercent: 25, minHealthyPercent: 100 },
  { label: "surge 100%", maxSurgePercent: 100, minHealthyPercent: 100 },
  { label: "min healthy 90%, no surge", maxSurgePercent: 0, minHealthyPercent: 90 },
];

/** The policy Phoenix uses when a group sets none. */
export const DEFAULT_POLICY: PolicyCase = { label: "default", maxSurgePercent: 25, minHealthyPercent: 100 };

/** The simulator's health checks and draining in these runs (DESIGN.md's fast scenario). */
export const TIMING = {
  healthCheckIntervalSeconds: 5,
  healthyThresholdCount: 2,
  deregistrationDelaySeconds: 30,
  bootSeconds: [10, 40] as [number, number],
};

/** The fleet of a row: one group of `instances` on version 1, version 2 to roll onto, at `seed`. */
export function fleet(instances: number, seed: number, extra: Partial<ScaleOptions> = {}): Scenario {
  return scaleScenario({ instances, seed, ...TIMING, ...extra });
}

/** Capacity as the policy sets it (README, Policy): floor F = ceil(D x min%), surge S = floor(D x surge%), >= 1. */
export function capacityOf(desired: number, policy: PolicyCase): { floor: number; surge: number } {
  const surge =
    policy.maxSurgePercent > 0 ? Math.max(1, Math.floor((desired * policy.maxSurgePercent) / 100)) : 0;
  return { floor: Math.ceil((desired * policy.minHealthyPercent) / 100), surge };
}

/** The scenario's timing model, as the simulated account it builds uses it. */
function timingOf(scenario: Scenario): SimTiming {
  return { ...DEFAULT_TIMING, ...(scenario.timing as Partial<SimTiming>) };
}

/**
 * The floor of rotating the scenario's first group under `capacity`: from the scenario's own timing model,
 * target group and new image, and the launch draws the simulated account will give the run (drawn here from
 * the scenario's seed, before and apart from any run).
 */
export function floorOf(scenario: Scenario, capacity: { floor: number; surge: number }): Floor {
  const group = scenario.groups[0] as Scenario["groups"][number];
  const targetGroup = scenario.targetGroups.find((item) => item.name === group.targetGroups[0]);
  const template = scenario.launchTemplates.find((item) => item.name === group.launchTemplate);
  const newImage = scenario.images.find((image) => image.imageId === template?.versions[1]);
  if (!targetGroup || !newImage) throw new Error(`${scenario.name}: no target group or no version 2 image`);
  const timing = timingOf(scenario);
  const bucket = DEFAULT_BUCKETS["ec2:instances"] as { burst: number; refillPerSecond: number };
  const model: FloorModel = {
    desired: group.desiredCapacity,
    replace: group.desiredCapacity,
    floor: capacity.floor,
    surge: capacity.surge,
    reactSeconds: timing.asgReactSeconds[0],
    healthCheckIntervalSeconds: targetGroup.healthCheckIntervalSeconds,
    healthyThresholdCount: targetGroup.healthyThresholdCount,
    deregistrationDelaySeconds: targetGroup.deregistrationDelaySeconds,
    bootSeconds: newImage.bootSeconds,
    launchBucket: bucket,
  };
  return slotRefillingFloor(model, launchDrawsFor(scenario.seed, timing, model.replace));
}

/** A measured Phoenix rotation: the execution's figures and the simulated account's calls. */
export interface PhoenixRotation {
  makespanSeconds: number;
  outcome: ExecutionOutcome;
  waves: number;
  apiCalls: Map<string, number>;
}

/** Options of a Phoenix rotation. */
export interface PhoenixOptions {
  /** Sabotage from outside functions/: every capacity raise Phoenix asks for is answered this much later. */
  holdLaunchSeconds?: number;
  /** Readiness poll; unset, Phoenix's default. */
  pollSeconds?: number;
  /** Passes no policy at all (the group's and Phoenix's defaults). */
  defaultPolicy?: boolean;
}

/**
 * A Phoenix made slower on purpose, from outside functions/: each raise of desired capacity that Phoenix
 * asks for is held `seconds` of simulated time before the account takes it, as if Phoenix waited that long
 * before every launch.
 */
function holdPhoenixLaunches(world: SimWorld, seconds: number): void {
  const setDesired = world.setDesired.bind(world);
  world.setDesired = (group, desired, why) => {
    if (world.actor === "phoenix" && desired > group.desiredCapacity) world.clock.advanceBy(seconds * 1000);
    setDesired(group, desired, why);
  };
}

/** Rotates the scenario's first group onto version 2 with Phoenix, on a fresh simulated account. */
export async function rotatePhoenix(
  scenario: Scenario,
  policy: PolicyCase,
  options: PhoenixOptions = {},
): Promise<PhoenixRotation> {
  const sim = await Simulation.fromScenario(scenario);
  if (options.holdLaunchSeconds) holdPhoenixLaunches(sim.world, options.holdLaunchSeconds);
  try {
    const groupName = (scenario.groups[0] as Scenario["groups"][number]).name;
    const startedAt = sim.world.clock.now();
    const outcome = await sim.run("replace-group", {
      groupName,
      reason: "new-image",
      targetVersion: "2",
      ...(options.defaultPolicy
        ? {}
        : {
            policy: {
              maxSurgePercent: policy.maxSurgePercent,
              minHealthyPercent: policy.minHealthyPercent,
              ...(options.pollSeconds ? { readiness: { pollSeconds: options.pollSeconds } } : {}),
            },
          }),
    });
    if (outcome.status !== "SUCCEEDED")
      throw new Error(`${scenario.name} at ${policy.label}: ${outcome.error} ${outcome.cause}`);
    return {
      makespanSeconds: (sim.world.clock.now() - startedAt) / 1000,
      outcome,
      waves: (outcome.output as { waves: number }).waves,
      apiCalls: new Map(sim.world.calls),
    };
  } finally {
    await sim.close();
  }
}

/** StartInstanceRefresh preferences of one Instance Refresh column (undefined fields take AWS's defaults). */
export interface RefreshSettings {
  minHealthyPercentage?: number;
  maxHealthyPercentage?: number;
  instanceWarmupSeconds?: number;
}

/**
 * The smallest warmup that covers boot: the longest an instance of the new image can take from InService
 * to healthy in its target group (its longest boot, then the health checks at their interval).
 */
export function tunedWarmupSeconds(scenario: Scenario): number {
  const targetGroup = scenario.targetGroups[0] as Scenario["targetGroups"][number];
  const template = scenario.launchTemplates[0] as Scenario["launchTemplates"][number];
  const image = scenario.images.find((item) => item.imageId === template.versions[1]);
  const interval = targetGroup.healthCheckIntervalSeconds;
  const bootMax = image?.bootSeconds[1] ?? 40;
  return interval * (Math.ceil(bootMax / interval) + targetGroup.healthyThresholdCount - 1);
}

/** Instance Refresh tuned to a row: the row's floor and surge as Min/MaxHealthyPercentage, warmup tuned. */
export function tunedRefresh(
  scenario: Scenario,
  policy: PolicyCase,
  warmupSeconds?: number,
): RefreshSettings {
  return {
    minHealthyPercentage: policy.minHealthyPercent,
    maxHealthyPercentage: 100 + policy.maxSurgePercent,
    instanceWarmupSeconds: warmupSeconds ?? tunedWarmupSeconds(scenario),
  };
}

/** A measured Instance Refresh: from the call to its EndTime (its last terminated instance drained). */
export interface RefreshRotation {
  makespanSeconds: number;
  status: string;
}

/** Rotates the scenario's first group onto version 2 with an instance refresh, on a fresh account. */
export async function rotateInstanceRefresh(
  scenario: Scenario,
  settings: RefreshSettings,
): Promise<RefreshRotation> {
  const world = buildWorld(scenario);
  const group = scenario.groups[0] as Scenario["groups"][number];
  const client = createSimClients(world).clients.autoScaling as AutoScalingClient;
  const startedAt = world.clock.now();
  await client.send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: group.name,
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateName: group.launchTemplate, Version: "2" } },
      Preferences: {
        MinHealthyPercentage: settings.minHealthyPercentage,
        MaxHealthyPercentage: settings.maxHealthyPercentage,
        InstanceWarmup: settings.instanceWarmupSeconds,
      },
    }),
  );
  const refreshes = instanceRefreshesOf(world);
  for (let step = 0; step < 100_000 && refreshes.active(group.name); step++) world.clock.advanceBy(10_000);
  const [refresh] = refreshes.describe(group.name);
  if (refresh?.status !== "Successful" || refresh.endTime === undefined)
    throw new Error(
      `${scenario.name}: instance refresh ended ${refresh?.status} ${refresh?.statusReason ?? ""}`,
    );
  return { makespanSeconds: (refresh.endTime - startedAt) / 1000, status: refresh.status };
}
