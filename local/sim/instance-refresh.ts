// Amazon EC2 Auto Scaling's instance refresh in the simulated account, from its documented algorithm:
// - How it works: replaces instances in batches sized by the minimum and maximum healthy percentages,
//   launching first when MaxHealthyPercentage is above 100 and terminating first when it is 100; a batch
//   starts only once the previous one is healthy and warmed up; skip matching; one refresh per group.
//   https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html
// - Capacity range: at least MinHealthyPercentage of desired capacity in service and healthy (rounded up),
//   at most MaxHealthyPercentage of it in service, healthy or pending (100-200, at most 100 apart).
//   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceMaintenancePolicy.html
//   With no room either way it still replaces one instance at a time, terminating first (a single-instance
//   group goes down during a refresh): https://repost.aws/questions/QUeI2VUmgxQICfWZXkyef3JQ
// - Defaults from the CLI/SDK: MinHealthyPercentage 90, MaxHealthyPercentage 100, InstanceWarmup = the
//   group's default instance warmup or else its health check grace period, CheckpointDelay 3600, skip
//   matching and auto rollback off, bake time 0.
//   https://docs.aws.amazon.com/autoscaling/ec2/userguide/understand-instance-refresh-default-values.html
// - An instance counts as updated once its health status is healthy and the warmup has passed since it
//   entered InService (InstanceRefresh.PercentageComplete):
//   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceRefresh.html
//   With Elastic Load Balancing health checks on the group, that includes being healthy in its target groups
//   ("insufficient data to evaluate its health with Elastic Load Balancing"):
//   https://www.repost.aws/questions/QU9RKhLxhnSRGeKNlRWkP_2A
// - Checkpoints: a checkpoint is reached when that share of the instances is new; batches are cut so as not
//   to pass it; checkpoints already passed are skipped; the refresh waits CheckpointDelay after each but the
//   last. https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-adding-checkpoints-instance-refresh.html
// - Rollback (AutoRollback, or RollbackInstanceRefresh): replaces the instances deployed so far with the
//   configuration the group had before; only with a desired configuration and a numbered launch template
//   version. https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-rollback.html
// - Cancelling stops new replacements and keeps those done; a refresh fails on health check failures of
//   its new instances (StartInstanceRefresh):
//   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html
// The desired configuration becomes the group's when the refresh succeeds. The refresh has no overhead of
// its own here: it acts the moment an instance is ready, and its launches take Auto Scaling's reaction and
// each instance's launch draw like any other. It ends (EndTime) when the last instance it terminated has
// drained. Not modelled: mixed instances policies, Standby and scale-in protected instance handling, alarms.
import type { SimGroup, SimInstance } from "./model";
import { SimAwsError, type SimWorld } from "./world";

/** An instance refresh's status, as DescribeInstanceRefreshes reports it. */
export type RefreshStatus =
  | "Pending"
  | "InProgress"
  | "Successful"
  | "Failed"
  | "Cancelling"
  | "Cancelled"
  | "RollbackInProgress"
  | "RollbackFailed"
  | "RollbackSuccessful"
  | "Baking";

/** Preferences with AWS's defaults filled in. */
export interface RefreshPreferences {
  minHealthyPercentage: number;
  maxHealthyPercentage: number;
  instanceWarmupSeconds: number;
  checkpointPercentages: number[];
  checkpointDelaySeconds: number;
  skipMatching: boolean;
  autoRollback: boolean;
  bakeTimeSeconds: number;
}

/** One instance refresh. */
export interface SimInstanceRefresh {
  instanceRefreshId: string;
  groupName: string;
  status: RefreshStatus;
  statusReason?: string;
  startTime: number;
  endTime?: number;
  preferences: RefreshPreferences;
  desiredLaunchTemplate?: { launchTemplateId: string; version: string };
  /** Instances still to replace, in the order they go. */
  toReplace: string[];
  /** Instances to replace at the start (for the percentages). */
  total: number;
  /** New instances of this refresh (those a rollback replaces), and when each entered InService. */
  launched: Map<string, number | undefined>;
  /** New instances of the current batch and how many it still expects. */
  batch: Set<string>;
  batchExpected: number;
  /** Old instances this refresh terminated that have not finished draining. */
  draining: Set<string>;
  nextCheckpoint: number;
  pausedUntil?: number;
}

const ACTIVE = new Set<RefreshStatus>([
  "Pending",
  "InProgress",
  "Cancelling",
  "RollbackInProgress",
  "Baking",
]);

/** Reads StartInstanceRefresh's Preferences with AWS's defaults, or refuses them naming the field. */
export function refreshPreferences(group: SimGroup, input: Record<string, unknown> = {}): RefreshPreferences {
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const value = input[name] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
      throw new SimAwsError("ValidationError", `${name} must be an integer from ${min} to ${max}`);
    return value;
  };
  const minHealthyPercentage = number("MinHealthyPercentage", 90, 0, 100);
  const maxHealthyPercentage = number("MaxHealthyPercentage", 100, 100, 200);
  if (maxHealthyPercentage - minHealthyPercentage > 100)
    throw new SimAwsError(
      "ValidationError",
      "The difference between MinHealthyPercentage and MaxHealthyPercentage cannot be greater than 100",
    );
  const checkpointPercentages = (input.CheckpointPercentages as number[] | undefined) ?? [];
  if (
    checkpointPercentages.some(
      (value, index) =>
        !Number.isInteger(value) ||
        value < 1 ||
        value > 100 ||
        value <= (checkpointPercentages[index - 1] ?? 0),
    )
  )
    throw new SimAwsError(
      "ValidationError",
      "CheckpointPercentages must be unique, ascending, from 1 to 100",
    );
  if (input.CheckpointDelay !== undefined && checkpointPercentages.length === 0)
    throw new SimAwsError("ValidationError", "CheckpointDelay needs CheckpointPercentages");
  return {
    minHealthyPercentage,
    maxHealthyPercentage,
    instanceWarmupSeconds: number("InstanceWarmup", group.healthCheckGracePeriod, 0, 2_147_483_647),
    checkpointPercentages,
    checkpointDelaySeconds: number("CheckpointDelay", 3600, 0, 172_800),
    skipMatching: input.SkipMatching === true,
    autoRollback: input.AutoRollback === true,
    bakeTimeSeconds: number("BakeTime", 0, 0, 172_800),
  };
}

/** The instance refreshes of one simulated account. */
export class InstanceRefreshes {
  private readonly refreshes: SimInstanceRefresh[] = [];
  private readonly stepQueued = new Set<SimInstanceRefresh>();

  constructor(private readonly world: SimWorld) {
    world.onLog((entry) => {
      const refresh = entry.groupName ? this.active(entry.groupName) : undefined;
      if (!refresh) return;
      if (entry.kind === "instance-launched" && entry.instanceId) this.noteLaunch(refresh, entry.instanceId);
      if (entry.kind === "instance-in-service" && entry.instanceId && refresh.launched.has(entry.instanceId))
        refresh.launched.set(entry.instanceId, entry.at);
      if (entry.kind === "instance-terminating" && entry.instanceId && refresh.batch.has(entry.instanceId))
        this.fail(refresh, `${entry.instanceId} failed its health checks: ${entry.message}`);
      this.queueStep(refresh);
    });
  }

  /** The group's refresh that is still running, if any. */
  active(groupName: string): SimInstanceRefresh | undefined {
    return this.refreshes.find((refresh) => refresh.groupName === groupName && ACTIVE.has(refresh.status));
  }

  /** A group's refreshes, newest first (DescribeInstanceRefreshes). */
  describe(groupName: string, ids?: string[]): SimInstanceRefresh[] {
    return this.refreshes
      .filter((refresh) => refresh.groupName === groupName)
      .filter((refresh) => !ids || ids.length === 0 || ids.includes(refresh.instanceRefreshId))
      .reverse();
  }

  /** StartInstanceRefresh. */
  start(
    group: SimGroup,
    preferences: RefreshPreferences,
    desiredLaunchTemplate?: { launchTemplateId: string; version: string },
  ): SimInstanceRefresh {
    if (this.active(group.groupName))
      throw new SimAwsError(
        "InstanceRefreshInProgress",
        "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
      );
    if (preferences.autoRollback) this.checkRollbackPossible(group, desiredLaunchTemplate);
    const target = desiredLaunchTemplate ?? group.launchTemplate;
    const targetVersion = this.world.resolveVersion(target.launchTemplateId, target.version);
    if (!targetVersion)
      throw new SimAwsError("ValidationError", `Launch template version ${target.version} does not exist`);
    const matches = (instance: SimInstance) =>
      instance.launchTemplate?.launchTemplateId === target.launchTemplateId &&
      instance.launchTemplate.version === String(targetVersion.version.versionNumber);
    const toReplace = this.world
      .activeMembers(group)
      .filter((instance) => !(preferences.skipMatching && matches(instance)))
      .map((instance) => instance.instanceId);
    const refresh: SimInstanceRefresh = {
      instanceRefreshId: uuidFrom(this.world),
      groupName: group.groupName,
      status: "Pending",
      startTime: this.world.clock.now(),
      preferences,
      desiredLaunchTemplate,
      toReplace,
      total: toReplace.length,
      launched: new Map(),
      batch: new Set(),
      batchExpected: 0,
      draining: new Set(),
      nextCheckpoint: 0,
    };
    this.refreshes.push(refresh);
    if (desiredLaunchTemplate) group.refreshLaunchTemplate = desiredLaunchTemplate;
    this.queueStep(refresh);
    return refresh;
  }

  /** CancelInstanceRefresh: no new replacement starts; the batch under way finishes launching. */
  cancel(groupName: string): SimInstanceRefresh {
    const refresh = this.active(groupName);
    if (!refresh || refresh.status === "Cancelling" || refresh.status === "RollbackInProgress")
      throw new SimAwsError(
        "ActiveInstanceRefreshNotFound",
        `No in progress or pending Instance Refresh found for Auto Scaling group ${groupName}`,
      );
    refresh.status = "Cancelling";
    this.queueStep(refresh);
    return refresh;
  }

  /** RollbackInstanceRefresh: replaces what the refresh deployed with the group's previous configuration. */
  rollback(groupName: string): SimInstanceRefresh {
    const refresh = this.active(groupName);
    if (!refresh || refresh.status === "RollbackInProgress")
      throw new SimAwsError(
        "ActiveInstanceRefreshNotFound",
        `No in progress or pending Instance Refresh found for Auto Scaling group ${groupName}`,
      );
    this.checkRollbackPossible(this.world.requireGroup(groupName), refresh.desiredLaunchTemplate);
    this.startRollback(refresh, "Rollback requested");
    return refresh;
  }

  /** Percentage of instances updated (healthy and warmed up) and how many are left. */
  progress(refresh: SimInstanceRefresh): { percentageComplete: number; instancesToUpdate: number } {
    const updated = [...refresh.launched.keys()].filter((id) => this.updated(refresh, id)).length;
    const total = Math.max(refresh.total, 1);
    return {
      percentageComplete: Math.min(100, Math.floor((100 * updated) / total)),
      instancesToUpdate: Math.max(0, refresh.total - updated),
    };
  }

  private checkRollbackPossible(group: SimGroup, desired?: { version: string }): void {
    if (!desired || ["$Latest", "$Default"].includes(group.launchTemplate.version))
      throw new SimAwsError(
        "ValidationError",
        "Rollback is not supported without a desired configuration or with a $Latest or $Default launch template version",
      );
  }

  private noteLaunch(refresh: SimInstanceRefresh, instanceId: string): void {
    if (refresh.batch.size >= refresh.batchExpected) return;
    refresh.batch.add(instanceId);
    refresh.launched.set(instanceId, undefined);
  }

  /** Healthy (in every target group, with ELB health checks) and warmed up since it entered InService. */
  private updated(refresh: SimInstanceRefresh, instanceId: string): boolean {
    const instance = this.world.instances.get(instanceId);
    const inServiceAt = refresh.launched.get(instanceId);
    const group = this.world.groups.get(refresh.groupName);
    if (!instance || !group || inServiceAt === undefined) return false;
    if (instance.lifecycleState !== "InService" || instance.healthStatus !== "Healthy") return false;
    if (
      group.healthCheckType === "ELB" &&
      !group.targetGroupArns.every(
        (arn) => this.world.targetGroups.get(arn)?.targets.get(instanceId)?.state === "healthy",
      )
    )
      return false;
    return this.world.clock.now() >= inServiceAt + refresh.preferences.instanceWarmupSeconds * 1000;
  }

  private queueStep(refresh: SimInstanceRefresh): void {
    if (this.stepQueued.has(refresh)) return;
    this.stepQueued.add(refresh);
    this.world.clock.schedule(0, () => {
      this.stepQueued.delete(refresh);
      this.world.as("instance-refresh", () => this.step(refresh));
    });
  }

  /** Moves the refresh on as far as the group allows now, and wakes it when a warmup ends. */
  private step(refresh: SimInstanceRefresh): void {
    const group = this.world.groups.get(refresh.groupName);
    if (!group || !ACTIVE.has(refresh.status)) return;
    const now = this.world.clock.now();
    if (refresh.status === "Pending") refresh.status = "InProgress";
    if (refresh.status === "Baking") {
      if (now >= (refresh.pausedUntil ?? now)) this.finish(refresh, group, "Successful");
      return;
    }
    if (refresh.pausedUntil !== undefined && now < refresh.pausedUntil) return;
    refresh.pausedUntil = undefined;
    if (group.suspendedProcesses.has("InstanceRefresh")) return;
    // The batch under way: every instance launched, healthy and warmed up (when cancelling, launched).
    const cancelling = refresh.status === "Cancelling";
    const pending = [...refresh.batch].filter((id) =>
      cancelling ? refresh.launched.get(id) === undefined : !this.updated(refresh, id),
    );
    if (refresh.batch.size < refresh.batchExpected || pending.length > 0) {
      this.wakeAtWarmupEnd(refresh, pending);
      return;
    }
    refresh.batch.clear();
    refresh.batchExpected = 0;
    if (cancelling) {
      this.finish(refresh, group, "Cancelled");
      return;
    }
    if (this.atCheckpoint(refresh)) return;
    const members = new Set(this.world.activeMembers(group).map((member) => member.instanceId));
    refresh.toReplace = refresh.toReplace.filter((id) => members.has(id));
    if (refresh.toReplace.length === 0) {
      this.releaseSurplus(group);
      if (refresh.draining.size > 0) return;
      if (refresh.status === "InProgress" && refresh.preferences.bakeTimeSeconds > 0) {
        refresh.status = "Baking";
        refresh.pausedUntil = now + refresh.preferences.bakeTimeSeconds * 1000;
        this.world.clock.scheduleAt(refresh.pausedUntil, () => this.queueStep(refresh));
        return;
      }
      this.finish(
        refresh,
        group,
        refresh.status === "RollbackInProgress" ? "RollbackSuccessful" : "Successful",
      );
      return;
    }
    this.replaceBatch(refresh, group);
  }

  /**
   * One batch: terminate what the floor can spare (instances that serve nobody cost it nothing), launch what
   * the ceiling allows (cut at a checkpoint), and terminate no instance that nothing new stands in for.
   */
  private replaceBatch(refresh: SimInstanceRefresh, group: SimGroup): void {
    const desired = group.desiredCapacity;
    let floor = Math.ceil((desired * refresh.preferences.minHealthyPercentage) / 100);
    const ceiling = Math.max(desired, Math.floor((desired * refresh.preferences.maxHealthyPercentage) / 100));
    if (ceiling === desired && floor >= desired) floor = desired - 1;
    const surplus = group.refreshSurplus ?? 0;
    const serving = new Set(this.world.healthyInService(group.groupName));
    // Those serving nobody go first (a stable sort keeps the rest oldest first).
    refresh.toReplace.sort((a, b) => Number(serving.has(a)) - Number(serving.has(b)));
    const idle = refresh.toReplace.filter((id) => !serving.has(id)).length;
    const spare = Math.min(refresh.toReplace.length, idle + Math.max(0, serving.size - floor));
    // Instances to replace that no ready new one stands in for yet (the surplus does for the rest).
    const stillOld = refresh.toReplace.length - surplus;
    let launch = Math.max(0, Math.min(stillOld, ceiling - (desired + surplus - spare)));
    const checkpoint = this.checkpointCount(refresh);
    if (checkpoint !== undefined) launch = Math.min(launch, Math.max(1, checkpoint - refresh.launched.size));
    const terminate = Math.min(spare, surplus + launch);
    for (const id of refresh.toReplace.splice(0, terminate)) {
      const instance = this.world.instances.get(id);
      if (!instance) continue;
      refresh.draining.add(id);
      this.world.terminateFromGroup(instance, "instance refresh");
      this.world.whenDrained(id, () => {
        refresh.draining.delete(id);
        this.queueStep(refresh);
      });
    }
    group.refreshSurplus = surplus - terminate + launch;
    refresh.batchExpected = launch;
    // Auto Scaling launches the batch after its usual reaction (each instance with its own launch draw).
    this.world.raiseTarget(group, launch);
    if (launch === 0) this.queueStep(refresh);
  }

  /** New instances needed to reach the next checkpoint, if one is set below 100. */
  private checkpointCount(refresh: SimInstanceRefresh): number | undefined {
    const percentage = refresh.preferences.checkpointPercentages[refresh.nextCheckpoint];
    if (percentage === undefined || refresh.status !== "InProgress") return undefined;
    return Math.ceil((percentage * refresh.total) / 100);
  }

  /** Pauses at a reached checkpoint (skipping those passed); a last checkpoint below 100 ends the refresh. */
  private atCheckpoint(refresh: SimInstanceRefresh): boolean {
    const checkpoints = refresh.preferences.checkpointPercentages;
    if (refresh.status !== "InProgress" || checkpoints.length === 0) return false;
    const done = (100 * refresh.launched.size) / Math.max(1, refresh.total);
    let reached: number | undefined;
    while ((checkpoints[refresh.nextCheckpoint] ?? Number.POSITIVE_INFINITY) <= done)
      reached = checkpoints[refresh.nextCheckpoint++];
    if (reached === undefined || reached === 100) return false;
    if (refresh.nextCheckpoint >= checkpoints.length) {
      refresh.toReplace = [];
      return false;
    }
    refresh.statusReason = `Waiting at checkpoint ${reached}% for ${refresh.preferences.checkpointDelaySeconds} s`;
    refresh.pausedUntil = this.world.clock.now() + refresh.preferences.checkpointDelaySeconds * 1000;
    this.world.clock.scheduleAt(refresh.pausedUntil, () => this.queueStep(refresh));
    return true;
  }

  private wakeAtWarmupEnd(refresh: SimInstanceRefresh, pending: string[]): void {
    const warmup = refresh.preferences.instanceWarmupSeconds * 1000;
    for (const id of pending) {
      const inServiceAt = refresh.launched.get(id);
      if (inServiceAt !== undefined && inServiceAt + warmup > this.world.clock.now())
        this.world.clock.scheduleAt(inServiceAt + warmup, () => this.queueStep(refresh));
    }
  }

  private fail(refresh: SimInstanceRefresh, reason: string): void {
    if (refresh.status === "RollbackInProgress") {
      this.finish(refresh, this.world.requireGroup(refresh.groupName), "RollbackFailed", reason);
      return;
    }
    if (refresh.status !== "InProgress" && refresh.status !== "Cancelling") return;
    if (refresh.preferences.autoRollback) this.startRollback(refresh, reason);
    else this.finish(refresh, this.world.requireGroup(refresh.groupName), "Failed", reason);
  }

  private startRollback(refresh: SimInstanceRefresh, reason: string): void {
    const group = this.world.requireGroup(refresh.groupName);
    refresh.status = "RollbackInProgress";
    refresh.statusReason = reason;
    group.refreshLaunchTemplate = undefined;
    // What was deployed goes back; new instances of the batch under way count as deployed.
    const deployed = [...refresh.launched.keys()].filter((id) =>
      this.world.activeMembers(group).some((member) => member.instanceId === id),
    );
    refresh.toReplace = deployed;
    refresh.total = deployed.length;
    refresh.launched = new Map();
    refresh.batch.clear();
    refresh.batchExpected = 0;
    this.queueStep(refresh);
  }

  private releaseSurplus(group: SimGroup): void {
    if (!group.refreshSurplus) return;
    group.refreshSurplus = 0;
    this.world.scheduleReconcile(group);
  }

  private finish(refresh: SimInstanceRefresh, group: SimGroup, status: RefreshStatus, reason?: string): void {
    refresh.status = status;
    refresh.statusReason = reason ?? refresh.statusReason;
    refresh.endTime = this.world.clock.now();
    this.releaseSurplus(group);
    const whole = (refresh.preferences.checkpointPercentages.at(-1) ?? 100) === 100;
    if (status === "Successful" && refresh.desiredLaunchTemplate && whole) {
      const template = this.world.launchTemplates.get(refresh.desiredLaunchTemplate.launchTemplateId);
      group.launchTemplate = {
        launchTemplateId: refresh.desiredLaunchTemplate.launchTemplateId,
        launchTemplateName: template?.launchTemplateName ?? group.launchTemplate.launchTemplateName,
        version: refresh.desiredLaunchTemplate.version,
      };
    }
    group.refreshLaunchTemplate = undefined;
    this.world.record({
      kind: "group-updated",
      groupName: group.groupName,
      message: `instance refresh ${refresh.instanceRefreshId} ${status}${reason ? `: ${reason}` : ""}`,
    });
  }
}

/** A refresh id shaped like AWS's (a UUID), from the world's random stream so a seed replays it. */
function uuidFrom(world: SimWorld): string {
  const hex = world.random.hex(32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const byWorld = new WeakMap<SimWorld, InstanceRefreshes>();

/** The instance refreshes of a simulated account (created on first use). */
export function instanceRefreshesOf(world: SimWorld): InstanceRefreshes {
  let refreshes = byWorld.get(world);
  if (!refreshes) {
    refreshes = new InstanceRefreshes(world);
    byWorld.set(world, refreshes);
  }
  return refreshes;
}
