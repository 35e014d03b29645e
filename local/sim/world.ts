import { SimClock } from "./clock";
import {
  type BucketSpec,
  DEFAULT_BUCKETS,
  DEFAULT_TIMING,
  type SimAddress,
  type SimGroup,
  type SimImage,
  type SimInstance,
  type SimLaunchTemplate,
  type SimLogEntry,
  type SimSecurityGroup,
  type SimSnapshot,
  type SimTarget,
  type SimTargetGroup,
  type SimTiming,
  type SimVolume,
} from "./model";
import { Random } from "./random";

/** An error the simulated AWS answers with: the service's error code, HTTP status and fault side. */
export class SimAwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatusCode = 400,
    readonly fault: "client" | "server" = "client",
  ) {
    super(message);
    this.name = code;
  }
}

/** An event on a simulated EventBridge bus. */
export interface SimEvent {
  id: string;
  at: number;
  source: string;
  detailType: string;
  detail: unknown;
  resources?: string[];
  eventBusName: string;
}

/** Faults a scenario or the chaos campaign injects into the account. */
export interface SimFaults {
  /** Share of API calls (0-1) answered with the service's throttling error. */
  throttleShare: number;
  /** The next N launches by Auto Scaling fail with InsufficientInstanceCapacity. */
  insufficientCapacityLaunches: number;
  /** The next N instances Auto Scaling launches boot, but their application never answers. */
  silentLaunches: number;
}

interface Bucket extends BucketSpec {
  tokens: number;
  updatedAt: number;
}

const ACTIVE_STATES = new Set(["Pending", "Pending:Wait", "Pending:Proceed", "InService"]);

/** What launching an instance takes (from a launch template version, or a scenario). */
export interface InstanceArgs {
  imageId: string;
  instanceType: string;
  availabilityZone: string;
  launchTemplate?: SimInstance["launchTemplate"];
  groupName?: string;
  tags?: Record<string, string>;
  securityGroupIds?: string[];
  iamInstanceProfileArn?: string;
}

/** Options to build a world. */
export interface WorldOptions {
  startTime: number;
  seed: number;
  timing?: Partial<SimTiming>;
  buckets?: Record<string, Partial<BucketSpec>>;
  region?: string;
}

/**
 * The simulated AWS account: EC2 instances, Auto Scaling groups, target groups, alarms and events, on a
 * simulated clock. It follows the AWS behaviour DESIGN.md lists: launch template versions resolved at
 * launch, launch and boot times, health checks with thresholds, draining before termination, MaxSize
 * checks, suspended processes, scale-in protection and termination policy, throttling buckets.
 */
export class SimWorld {
  readonly clock: SimClock;
  readonly random: Random;
  readonly timing: SimTiming;
  readonly region: string;
  readonly accountId = "123456789012";
  readonly vpcId = "vpc-0a1b2c3d4e5f60789";
  readonly securityGroups = new Map<string, SimSecurityGroup>();
  readonly addresses = new Map<string, SimAddress>();
  readonly instanceProfiles = new Set<string>();
  readonly snapshots = new Map<string, SimSnapshot>();
  readonly images = new Map<string, SimImage>();
  readonly launchTemplates = new Map<string, SimLaunchTemplate>();
  readonly instances = new Map<string, SimInstance>();
  readonly groups = new Map<string, SimGroup>();
  readonly targetGroups = new Map<string, SimTargetGroup>();
  readonly alarms = new Map<string, { alarmName: string; state: string }>();
  readonly events: SimEvent[] = [];
  /** Parameter Store: name -> value and version. */
  readonly parameters = new Map<string, { value: string; version: number }>();
  /** Image Builder images by build version ARN. */
  readonly builtImages = new Map<
    string,
    { name: string; version: string; tags: Record<string, string>; amis: { region: string; image: string }[] }
  >();
  readonly log: SimLogEntry[] = [];
  readonly faults: SimFaults = { throttleShare: 0, insufficientCapacityLaunches: 0, silentLaunches: 0 };
  /**
   * Who is acting right now: "phoenix" while an API call is answered, "aws" for the account's own timers,
   * or a fault's name. Terminations and deregistrations remember it, so invariants can tell Phoenix's
   * doing from everything else's.
   */
  actor = "aws";
  /** API calls answered, by "service:Operation". */
  readonly calls = new Map<string, number>();
  /** API calls throttled, by "service:Operation". */
  readonly throttled = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly healthTicks = new Map<string, { cancel(): void }>();
  private readonly reconcileScheduled = new Set<string>();
  private readonly listeners: ((entry: SimLogEntry) => void)[] = [];
  private readonly changeListeners: (() => void)[] = [];
  private readonly eventListeners: ((event: SimEvent) => void)[] = [];
  private ipCounter = 10;

  constructor(options: WorldOptions) {
    this.clock = new SimClock(options.startTime);
    this.random = new Random(options.seed);
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.region = options.region ?? "us-east-1";
    for (const [name, spec] of Object.entries(DEFAULT_BUCKETS)) {
      const merged = { ...spec, ...options.buckets?.[name] };
      this.buckets.set(name, { ...merged, tokens: merged.burst, updatedAt: options.startTime });
    }
  }

  // ---------------------------------------------------------------- observation

  /** Calls `listener` for every log entry (timeline printers, observers). */
  onLog(listener: (entry: SimLogEntry) => void): void {
    this.listeners.push(listener);
  }

  /** Calls `listener` after anything in the account changed (invariant checkers). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /** Records something that happened, for the timeline. */
  record(entry: Omit<SimLogEntry, "at">): void {
    const full = { at: this.clock.now(), ...entry };
    this.log.push(full);
    for (const listener of this.listeners) listener(full);
    this.changed();
  }

  /** Calls `listener` for every event put on a bus (the simulated EventBridge routes them to rules). */
  onPutEvent(listener: (event: SimEvent) => void): void {
    this.eventListeners.push(listener);
  }

  /** Puts an event on a bus (PutEvents, or AWS services announcing something). */
  putEvent(event: {
    source: string;
    detailType: string;
    detail: unknown;
    resources?: string[];
    eventBusName?: string;
  }): SimEvent {
    const full: SimEvent = {
      ...event,
      eventBusName: event.eventBusName ?? "default",
      at: this.clock.now(),
      id: this.random.hex(32),
    };
    this.events.push(full);
    this.record({ kind: "event", message: `event ${event.detailType} from ${event.source}` });
    for (const listener of this.eventListeners) listener(full);
    return full;
  }

  /** Signals a state change to the change listeners. */
  changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /** Instances of a group that serve traffic: InService, Healthy, and healthy in every target group. */
  healthyInService(groupName: string): string[] {
    const group = this.requireGroup(groupName);
    return group.instanceIds.filter((id) => {
      const instance = this.instances.get(id);
      if (instance?.lifecycleState !== "InService" || instance.healthStatus !== "Healthy") return false;
      return group.targetGroupArns.every(
        (arn) => this.targetGroups.get(arn)?.targets.get(id)?.state === "healthy",
      );
    });
  }

  // ---------------------------------------------------------------- API plumbing

  /** Advances the clock by one API call's latency. */
  apiLatency(): void {
    const [min, max] = this.timing.apiLatencyMs;
    this.clock.advanceBy(this.random.between(min, max));
  }

  /** Takes a token from a bucket, or throws the given throttling error when it is empty. */
  takeToken(bucketName: string, throttleCode: string, count = 1): void {
    if (!this.tryTake(bucketName, count)) {
      throw new SimAwsError(
        throttleCode,
        "Rate exceeded",
        throttleCode === "RequestLimitExceeded" ? 503 : 400,
      );
    }
  }

  /** Takes tokens from a bucket if it has them; false when it is empty. */
  tryTake(bucketName: string, count = 1): boolean {
    const bucket = this.buckets.get(bucketName);
    if (!bucket) return true;
    const now = this.clock.now();
    bucket.tokens = Math.min(
      bucket.burst,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * bucket.refillPerSecond,
    );
    bucket.updatedAt = now;
    if (bucket.tokens < count) return false;
    bucket.tokens -= count;
    return true;
  }

  /** Counts a call to `operation` (used for cost figures). */
  countCall(operation: string, into: Map<string, number> = this.calls): void {
    into.set(operation, (into.get(operation) ?? 0) + 1);
  }

  // ---------------------------------------------------------------- lookups

  requireGroup(groupName: string): SimGroup {
    const group = this.groups.get(groupName);
    if (!group) throw new SimAwsError("ValidationError", `AutoScalingGroup name not found - ${groupName}`);
    return group;
  }

  requireInstance(instanceId: string): SimInstance {
    const instance = this.instances.get(instanceId);
    if (!instance)
      throw new SimAwsError("InvalidInstanceID.NotFound", `The instance ID '${instanceId}' does not exist`);
    return instance;
  }

  /** Runs `work` as `actor` (see `actor`). */
  as<T>(actor: string, work: () => T): T {
    const before = this.actor;
    this.actor = actor;
    try {
      return work();
    } finally {
      this.actor = before;
    }
  }

  /** Resolves "$Latest", "$Default" or a number to a version of a launch template. */
  resolveVersion(launchTemplateId: string, version: string) {
    const template = this.launchTemplates.get(launchTemplateId);
    if (!template) return undefined;
    const number =
      version === "$Latest"
        ? template.latestVersion
        : version === "$Default"
          ? template.defaultVersion
          : Number(version);
    const found = template.versions.get(number);
    return found ? { template, version: found } : undefined;
  }

  /** A fresh id of the given prefix (i-, lt-, ...), 17 hex digits as AWS uses. */
  newId(prefix: string): string {
    return `${prefix}-${this.random.hex(17)}`;
  }

  // ---------------------------------------------------------------- EC2

  /** Creates an instance in pending state and schedules its way to running and to a booted application. */
  launchInstance(args: InstanceArgs): SimInstance {
    const instance = this.createInstance(args, { state: "pending", launchTime: this.clock.now() });
    this.record({
      kind: "instance-launched",
      groupName: args.groupName,
      instanceId: instance.instanceId,
      message: `${instance.instanceId} launched in ${instance.availabilityZone} from ${args.imageId}${
        args.launchTemplate ? ` (launch template version ${args.launchTemplate.version})` : ""
      }`,
    });
    const { launchApiSeconds, pendingToRunningSeconds, launchJitter } = this.timing;
    const runningIn =
      (this.random.jitter(launchApiSeconds, launchJitter) +
        this.random.jitter(pendingToRunningSeconds, launchJitter)) *
      1000;
    this.clock.schedule(runningIn, () => this.instanceRunning(instance));
    return instance;
  }

  /** Adds an instance that has been running since `launchTime` (scenario set-up). */
  addRunningInstance(args: InstanceArgs & { launchTime: number }): SimInstance {
    const image = this.images.get(args.imageId);
    return this.createInstance(args, {
      state: "running",
      launchTime: args.launchTime,
      appReadyAt: image?.good === false ? undefined : args.launchTime,
    });
  }

  /** An instance with its network interface, root volume and instance profile, as RunInstances makes it. */
  private createInstance(
    args: InstanceArgs,
    at: { state: "pending" | "running"; launchTime: number; appReadyAt?: number },
  ): SimInstance {
    const image = this.images.get(args.imageId);
    const privateIpAddress = this.nextIp();
    const instanceId = this.newId("i");
    const volume: SimVolume = {
      volumeId: this.newId("vol"),
      sizeGiB: 30,
      availabilityZone: args.availabilityZone,
      deviceName: "/dev/xvda",
      deleteOnTermination: true,
    };
    const instance: SimInstance = {
      instanceId,
      imageId: args.imageId,
      instanceType: args.instanceType,
      availabilityZone: args.availabilityZone,
      privateIpAddress,
      launchTime: at.launchTime,
      state: at.state,
      launchTemplate: args.launchTemplate,
      tags: new Map(Object.entries(args.tags ?? {})),
      appReadyAt: at.appReadyAt,
      httpStatus: image?.httpStatus ?? 200,
      groupName: args.groupName,
      lifecycleState: args.groupName ? (at.state === "running" ? "InService" : "Pending") : undefined,
      healthStatus: "Healthy",
      protectedFromScaleIn: false,
      disableApiTermination: false,
      shutdownBehavior: "terminate",
      vpcId: this.vpcId,
      subnetId: `subnet-${args.availabilityZone.slice(-1)}0000000000000001`,
      networkInterfaces: [
        {
          networkInterfaceId: this.newId("eni"),
          privateIpAddress,
          groups: [...(args.securityGroupIds ?? [])],
        },
      ],
      iamInstanceProfile: args.iamInstanceProfileArn
        ? { arn: args.iamInstanceProfileArn, associationId: this.newId("iip-assoc") }
        : undefined,
      volumes: [volume],
      connections: [],
    };
    this.instances.set(instance.instanceId, instance);
    return instance;
  }

  private nextIp(): string {
    const n = this.ipCounter++;
    return `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}`;
  }

  private instanceRunning(instance: SimInstance): void {
    if (instance.state !== "pending") return;
    instance.state = "running";
    const image = this.images.get(instance.imageId);
    if (image?.good !== false && !instance.neverAnswers) {
      const [min, max] = image?.bootSeconds ?? [10, 40];
      instance.appReadyAt = this.clock.now() + this.random.between(min, max) * 1000;
    }
    this.record({
      kind: "instance-running",
      groupName: instance.groupName,
      instanceId: instance.instanceId,
      message: `${instance.instanceId} running`,
    });
    if (instance.groupName && instance.lifecycleState === "Pending") this.enterService(instance);
  }

  /** Whether the instance's application answers at this moment. */
  answers(instance: SimInstance): boolean {
    return (
      instance.state === "running" &&
      instance.appReadyAt !== undefined &&
      this.clock.now() >= instance.appReadyAt &&
      this.acceptsInbound(instance)
    );
  }

  /** Whether any security group of the instance lets traffic in (health checks, clients). */
  acceptsInbound(instance: SimInstance): boolean {
    const groups = instance.networkInterfaces.flatMap((eni) => eni.groups);
    return groups.length === 0 || groups.some((id) => (this.securityGroups.get(id)?.ingress.length ?? 1) > 0);
  }

  /** A group allowing all traffic in and out from anywhere: connections under it are not tracked. */
  allowsAllTraffic(groupId: string): boolean {
    const group = this.securityGroups.get(groupId);
    const open = (rules: { protocol: string; cidr: string }[]) =>
      rules.some((rule) => rule.protocol === "-1" && rule.cidr === "0.0.0.0/0");
    return !!group && open(group.ingress) && open(group.egress);
  }

  /**
   * Changes the security groups of a network interface, with EC2's connection tracking: a connection
   * tracked under the old groups survives the change even if no new rule allows it; a connection that was
   * untracked (all traffic allowed) ends at once when the new groups do not allow it. Moving to an
   * all-traffic group first untracks everything, which is why isolation takes two steps.
   */
  setInterfaceGroups(instance: SimInstance, networkInterfaceId: string, groupIds: string[]): void {
    const eni = instance.networkInterfaces.find((item) => item.networkInterfaceId === networkInterfaceId);
    if (!eni) {
      throw new SimAwsError(
        "InvalidNetworkInterfaceID.NotFound",
        `The networkInterface ID '${networkInterfaceId}' does not exist`,
      );
    }
    for (const id of groupIds) {
      const group = this.securityGroups.get(id);
      if (!group || group.vpcId !== instance.vpcId) {
        throw new SimAwsError(
          "InvalidGroup.NotFound",
          `The security group '${id}' does not exist in VPC '${instance.vpcId}'`,
        );
      }
    }
    eni.groups = [...groupIds];
    this.record({
      kind: "security-groups-changed",
      groupName: instance.groupName,
      instanceId: instance.instanceId,
      message: `${networkInterfaceId} of ${instance.instanceId} now in ${groupIds.map((id) => this.securityGroups.get(id)?.groupName ?? id).join(", ")}`,
    });
    const allowsAll = groupIds.some((id) => this.allowsAllTraffic(id));
    const allows = (direction: "inbound" | "outbound") =>
      groupIds.some((id) => {
        const group = this.securityGroups.get(id);
        return ((direction === "inbound" ? group?.ingress : group?.egress) ?? []).length > 0;
      });
    for (const connection of instance.connections.filter((item) => item.open)) {
      if (allowsAll) connection.tracked = false;
      else if (!connection.tracked && !allows(connection.direction)) {
        connection.open = false;
        connection.closedAt = this.clock.now();
        this.record({
          kind: "connection-closed",
          groupName: instance.groupName,
          instanceId: instance.instanceId,
          message: `${instance.instanceId}: connection ${connection.direction === "outbound" ? "to" : "from"} ${connection.peer} closed`,
        });
      }
    }
    this.wakeTargets(instance.instanceId);
  }

  /** Starts an EBS snapshot; it completes after a time proportional to the volume's size. */
  startSnapshot(volume: SimVolume, description: string, tags: Record<string, string>): SimSnapshot {
    const seconds = 60 + volume.sizeGiB * this.timing.snapshotSecondsPerGiB;
    const snapshot: SimSnapshot = {
      snapshotId: this.newId("snap"),
      volumeId: volume.volumeId,
      description,
      state: "pending",
      startTime: this.clock.now(),
      completesAt: this.clock.now() + seconds * 1000,
      tags: new Map(Object.entries(tags)),
    };
    this.snapshots.set(snapshot.snapshotId, snapshot);
    this.record({
      kind: "snapshot-started",
      message: `${snapshot.snapshotId} of ${volume.volumeId} started`,
    });
    this.clock.scheduleAt(snapshot.completesAt, () => {
      snapshot.state = "completed";
      this.record({
        kind: "snapshot-completed",
        message: `${snapshot.snapshotId} of ${volume.volumeId} completed`,
      });
    });
    return snapshot;
  }

  /**
   * Detaches a member from its group the way Auto Scaling does: Detaching, deregistered from every target
   * group and drained, then Detached and out of the group (still running). Without a decrement the group
   * launches a replacement.
   */
  detachFromGroup(instance: SimInstance, decrement: boolean): void {
    const group = instance.groupName ? this.groups.get(instance.groupName) : undefined;
    if (!group) return;
    instance.lifecycleState = "Detaching";
    if (decrement) group.desiredCapacity -= 1;
    this.record({
      kind: "instance-detaching",
      groupName: group.groupName,
      instanceId: instance.instanceId,
      message: `${instance.instanceId} Detaching${decrement ? " (decrementing)" : ""}`,
    });
    for (const arn of group.targetGroupArns.filter((tg) =>
      this.targetGroups.get(tg)?.targets.has(instance.instanceId),
    )) {
      this.deregisterTarget(arn, instance.instanceId);
    }
    this.whenDrained(instance.instanceId, () => {
      group.instanceIds = group.instanceIds.filter((id) => id !== instance.instanceId);
      instance.lifecycleState = "Detached";
      instance.groupName = undefined;
      this.record({
        kind: "instance-detached",
        groupName: group.groupName,
        instanceId: instance.instanceId,
        message: `${instance.instanceId} Detached from ${group.groupName}`,
      });
      if (!decrement) this.scheduleReconcile(group);
    });
  }

  /** EC2-level termination: shutting-down now, terminated 10-30 s later. */
  terminateEc2(instance: SimInstance): void {
    if (instance.state === "shutting-down" || instance.state === "terminated") return;
    instance.terminatedBy ??= { actor: this.actor, why: "TerminateInstances" };
    for (const connection of instance.connections) connection.open = false;
    instance.state = "shutting-down";
    this.wakeTargets(instance.instanceId);
    const [min, max] = this.timing.shuttingDownSeconds;
    this.clock.schedule(this.random.between(min, max) * 1000, () => {
      instance.state = "terminated";
      this.record({
        kind: "instance-terminated",
        groupName: instance.groupName,
        instanceId: instance.instanceId,
        message: `${instance.instanceId} terminated`,
      });
      if (instance.groupName) this.leaveGroup(instance);
    });
    this.changed();
  }

  // ---------------------------------------------------------------- Auto Scaling

  /** Changes desired capacity after AWS's checks, and lets the group react within 5-10 s. */
  setDesired(group: SimGroup, desired: number, why: string): void {
    if (desired > group.maxSize || desired < group.minSize) {
      throw new SimAwsError(
        "ValidationError",
        `New SetDesiredCapacity value ${desired} is ${desired > group.maxSize ? "above max" : "below min"} value ${
          desired > group.maxSize ? group.maxSize : group.minSize
        } for the AutoScalingGroup.`,
      );
    }
    if (desired === group.desiredCapacity) return;
    const before = group.desiredCapacity;
    group.desiredCapacity = desired;
    group.desiredSetBy = this.actor;
    this.record({
      kind: "desired-changed",
      groupName: group.groupName,
      message: `desired capacity ${before} -> ${desired} (${why})`,
    });
    this.scheduleReconcile(group);
  }

  /** Makes the group converge on its desired capacity soon (as Auto Scaling does after a change). */
  scheduleReconcile(group: SimGroup, delaySeconds?: number): void {
    if (this.reconcileScheduled.has(group.groupName)) return;
    this.reconcileScheduled.add(group.groupName);
    const [min, max] = this.timing.asgReactSeconds;
    const delay = (delaySeconds ?? this.random.between(min, max)) * 1000;
    this.clock.schedule(delay, () => {
      this.reconcileScheduled.delete(group.groupName);
      this.reconcile(group);
    });
  }

  /**
   * A scaling policy's alarm fires: desired capacity moves by `delta`, within MinSize and MaxSize, unless
   * the group's AlarmNotification process is suspended. Returns the new desired capacity, if it moved.
   */
  scalingPolicy(group: SimGroup, delta: number): number | undefined {
    if (group.suspendedProcesses.has("AlarmNotification")) return undefined;
    const desired = Math.min(group.maxSize, Math.max(group.minSize, group.desiredCapacity + delta));
    if (desired === group.desiredCapacity) return undefined;
    this.as("scaling-policy", () => this.setDesired(group, desired, "scaling policy"));
    return desired;
  }

  /**
   * Auto Scaling's AZRebalance: launches one instance into the emptiest zone, then, once it is running,
   * terminates one from the fullest (by the termination policy) if the group is above desired capacity.
   * Does nothing while the process is suspended. Returns whether it launched.
   */
  rebalance(group: SimGroup): boolean {
    if (group.suspendedProcesses.has("AZRebalance") || group.suspendedProcesses.has("Launch")) return false;
    if (!this.launchIntoGroup(group)) return false;
    group.rebalanceSurplus = (group.rebalanceSurplus ?? 0) + 1;
    const [min, max] = this.timing.pendingToRunningSeconds > 0 ? [20, 40] : [1, 2];
    this.clock.schedule(this.random.between(min, max) * 1000, () => {
      group.rebalanceSurplus = Math.max(0, (group.rebalanceSurplus ?? 0) - 1);
      const active = this.activeMembers(group);
      if (active.length <= group.desiredCapacity || group.suspendedProcesses.has("AZRebalance")) return;
      this.as("az-rebalance", () => {
        for (const victim of this.chooseScaleInVictims(
          group,
          active,
          active.length - group.desiredCapacity,
        )) {
          this.terminateFromGroup(victim, "AZRebalance");
        }
      });
    });
    this.changed();
    return true;
  }

  /** Active members: launching or in service (not terminating, detached or in standby). */
  activeMembers(group: SimGroup): SimInstance[] {
    return group.instanceIds
      .map((id) => this.instances.get(id))
      .filter(
        (instance): instance is SimInstance => !!instance && ACTIVE_STATES.has(instance.lifecycleState ?? ""),
      );
  }

  private reconcile(group: SimGroup): void {
    if (!this.groups.has(group.groupName)) return;
    const active = this.activeMembers(group);
    if (active.length < group.desiredCapacity && !group.suspendedProcesses.has("Launch")) {
      for (let i = active.length; i < group.desiredCapacity; i++) {
        if (!this.launchIntoGroup(group)) {
          this.scheduleReconcile(group, this.timing.launchRetrySeconds);
          break;
        }
      }
    } else if (
      active.length - (group.rebalanceSurplus ?? 0) > group.desiredCapacity &&
      !group.suspendedProcesses.has("Terminate")
    ) {
      // A scale-in is the doing of whoever lowered desired capacity (AZRebalance's own excess is its own).
      const excess = active.length - (group.rebalanceSurplus ?? 0) - group.desiredCapacity;
      this.as(group.desiredSetBy ?? "aws", () => {
        for (const victim of this.chooseScaleInVictims(group, active, excess)) {
          this.terminateFromGroup(victim, "scale-in");
        }
      });
    }
  }

  /** Launches one instance into the group's least-populated zone, from the version resolved now. */
  private launchIntoGroup(group: SimGroup): boolean {
    const resolved = this.resolveVersion(group.launchTemplate.launchTemplateId, group.launchTemplate.version);
    if (!resolved) {
      this.record({
        kind: "launch-failed",
        groupName: group.groupName,
        message: "launch failed: launch template version not found",
      });
      return false;
    }
    if (this.faults.insufficientCapacityLaunches > 0) {
      this.faults.insufficientCapacityLaunches--;
      this.record({
        kind: "launch-failed",
        groupName: group.groupName,
        message: "launch failed: InsufficientInstanceCapacity",
      });
      return false;
    }
    // Auto Scaling's launches draw on the account's RunInstances resource bucket like anyone's.
    if (!this.tryTake("ec2:instances")) {
      this.record({
        kind: "launch-failed",
        groupName: group.groupName,
        message: "launch failed: RequestLimitExceeded (instance launch rate)",
      });
      return false;
    }
    const zoneCounts = new Map(group.availabilityZones.map((zone) => [zone, 0]));
    for (const member of this.activeMembers(group)) {
      zoneCounts.set(member.availabilityZone, (zoneCounts.get(member.availabilityZone) ?? 0) + 1);
    }
    const zone =
      [...zoneCounts].sort((a, b) => a[1] - b[1])[0]?.[0] ?? group.availabilityZones[0] ?? `${this.region}a`;
    // The instance is a Pending member from the start, so the group does not launch twice for one gap.
    const instance = this.launchInstance({
      imageId: resolved.version.imageId,
      instanceType: resolved.version.instanceType,
      availabilityZone: zone,
      launchTemplate: {
        launchTemplateId: resolved.template.launchTemplateId,
        launchTemplateName: resolved.template.launchTemplateName,
        version: String(resolved.version.versionNumber),
      },
      groupName: group.groupName,
      tags: Object.fromEntries([...group.tags].filter(([key]) => !key.startsWith("aws:"))),
      securityGroupIds: resolved.version.securityGroupIds,
      iamInstanceProfileArn: resolved.version.iamInstanceProfileArn,
    });
    if (this.faults.silentLaunches > 0) {
      this.faults.silentLaunches--;
      instance.neverAnswers = true;
    }
    instance.protectedFromScaleIn = group.newInstancesProtectedFromScaleIn;
    group.instanceIds.push(instance.instanceId);
    return true;
  }

  private enterService(instance: SimInstance): void {
    const group = instance.groupName ? this.groups.get(instance.groupName) : undefined;
    if (!group) return;
    instance.lifecycleState = "InService";
    this.record({
      kind: "instance-in-service",
      groupName: group.groupName,
      instanceId: instance.instanceId,
      message: `${instance.instanceId} InService`,
    });
    if (!group.suspendedProcesses.has("AddToLoadBalancer")) {
      for (const arn of group.targetGroupArns) this.registerTarget(arn, instance.instanceId);
    }
  }

  /**
   * Default termination policy: zone with the most instances first, then instances not on the group's
   * current launch template version, then at random. Protected instances are never chosen.
   */
  private chooseScaleInVictims(group: SimGroup, active: SimInstance[], count: number): SimInstance[] {
    const candidates = active.filter((instance) => !instance.protectedFromScaleIn);
    const current = this.resolveVersion(group.launchTemplate.launchTemplateId, group.launchTemplate.version);
    const currentVersion = current ? String(current.version.versionNumber) : group.launchTemplate.version;
    const victims: SimInstance[] = [];
    for (let n = 0; n < count && candidates.length > 0; n++) {
      const perZone = new Map<string, number>();
      for (const instance of active) {
        if (!victims.includes(instance))
          perZone.set(instance.availabilityZone, (perZone.get(instance.availabilityZone) ?? 0) + 1);
      }
      const most = Math.max(...candidates.map((instance) => perZone.get(instance.availabilityZone) ?? 0));
      let pool = candidates.filter((instance) => (perZone.get(instance.availabilityZone) ?? 0) === most);
      const outdated = pool.filter((instance) => instance.launchTemplate?.version !== currentVersion);
      if (outdated.length > 0) pool = outdated;
      const victim = pool[this.random.int(pool.length)] as SimInstance;
      victims.push(victim);
      candidates.splice(candidates.indexOf(victim), 1);
    }
    return victims;
  }

  /**
   * Terminates a member the way Auto Scaling does: Terminating, deregistered from every target group, and
   * only once draining ended, shut down.
   */
  terminateFromGroup(instance: SimInstance, why: string): void {
    const group = instance.groupName ? this.groups.get(instance.groupName) : undefined;
    if (!group || instance.lifecycleState?.startsWith("Terminating")) return;
    instance.lifecycleState = "Terminating";
    instance.terminatedBy = { actor: this.actor, why };
    this.record({
      kind: "instance-terminating",
      groupName: group.groupName,
      instanceId: instance.instanceId,
      message: `${instance.instanceId} Terminating (${why})`,
    });
    const draining = group.targetGroupArns.filter((arn) =>
      this.targetGroups.get(arn)?.targets.has(instance.instanceId),
    );
    for (const arn of draining) this.deregisterTarget(arn, instance.instanceId);
    this.whenDrained(instance.instanceId, () => this.terminateEc2(instance));
  }

  private leaveGroup(instance: SimInstance): void {
    const group = instance.groupName ? this.groups.get(instance.groupName) : undefined;
    if (!group) return;
    group.instanceIds = group.instanceIds.filter((id) => id !== instance.instanceId);
    instance.lifecycleState = "Terminated";
    this.scheduleReconcile(group);
  }

  /** Auto Scaling's reaction to an unhealthy load balancer health check (ELB health check type). */
  private onTargetUnhealthy(instanceId: string): void {
    const instance = this.instances.get(instanceId);
    const group = instance?.groupName ? this.groups.get(instance.groupName) : undefined;
    if (!instance || !group || group.healthCheckType !== "ELB" || instance.lifecycleState !== "InService")
      return;
    if (group.suspendedProcesses.has("HealthCheck")) return;
    const graceEnds = instance.launchTime + group.healthCheckGracePeriod * 1000;
    if (this.clock.now() < graceEnds) {
      this.clock.scheduleAt(graceEnds, () => {
        const still = group.targetGroupArns.some(
          (arn) => this.targetGroups.get(arn)?.targets.get(instanceId)?.state === "unhealthy",
        );
        if (still) this.onTargetUnhealthy(instanceId);
      });
      return;
    }
    instance.healthStatus = "Unhealthy";
    this.changed();
    if (!group.suspendedProcesses.has("ReplaceUnhealthy"))
      this.terminateFromGroup(instance, "unhealthy in a target group");
  }

  // ---------------------------------------------------------------- Elastic Load Balancing

  /** Registers a target: `initial` until HealthyThresholdCount checks pass at the check interval. */
  registerTarget(targetGroupArn: string, instanceId: string): void {
    const targetGroup = this.targetGroups.get(targetGroupArn);
    if (!targetGroup)
      throw new SimAwsError("TargetGroupNotFound", `Target group '${targetGroupArn}' not found`);
    const existing = targetGroup.targets.get(instanceId);
    if (existing && existing.state !== "draining") return;
    const target: SimTarget = {
      instanceId,
      state: "initial",
      reason: "Elb.RegistrationInProgress",
      registeredAt: this.clock.now(),
      okStreak: 0,
      failStreak: 0,
    };
    targetGroup.targets.set(instanceId, target);
    const instance = this.instances.get(instanceId);
    if (instance) {
      instance.deregisteredAt = undefined;
      instance.drainedAt = undefined;
    }
    this.scheduleHealthTick(targetGroup, target);
    this.changed();
  }

  /** Starts draining a target; it leaves the group when the deregistration delay has passed. */
  deregisterTarget(targetGroupArn: string, instanceId: string): void {
    const targetGroup = this.targetGroups.get(targetGroupArn);
    const target = targetGroup?.targets.get(instanceId);
    if (!targetGroup || !target || target.state === "draining") return;
    this.cancelHealthTick(targetGroup, instanceId);
    target.state = "draining";
    target.reason = "Target.DeregistrationInProgress";
    const instance = this.instances.get(instanceId);
    if (instance) {
      instance.deregisteredAt = this.clock.now();
      instance.deregisteredBy = this.actor;
    }
    this.record({
      kind: "target-draining",
      groupName: instance?.groupName,
      instanceId,
      message: `${instanceId} draining from ${targetGroup.targetGroupName} (${targetGroup.deregistrationDelaySeconds}s)`,
    });
    this.clock.schedule(targetGroup.deregistrationDelaySeconds * 1000, () => {
      if (targetGroup.targets.get(instanceId) !== target) return;
      targetGroup.targets.delete(instanceId);
      const stillDraining = [...this.targetGroups.values()].some(
        (group) => group.targets.get(instanceId)?.state === "draining",
      );
      if (instance && !stillDraining) instance.drainedAt = this.clock.now();
      this.record({
        kind: "target-drained",
        groupName: instance?.groupName,
        instanceId,
        message: `${instanceId} drained from ${targetGroup.targetGroupName}`,
      });
      this.notifyDrained(instanceId);
    });
  }

  private readonly drainWaiters = new Map<string, (() => void)[]>();

  /** Runs `then` once the instance is draining from no target group. */
  whenDrained(instanceId: string, then: () => void): void {
    const draining = [...this.targetGroups.values()].some(
      (group) => group.targets.get(instanceId)?.state === "draining",
    );
    if (!draining) {
      then();
      return;
    }
    const waiters = this.drainWaiters.get(instanceId) ?? [];
    waiters.push(then);
    this.drainWaiters.set(instanceId, waiters);
  }

  private notifyDrained(instanceId: string): void {
    const draining = [...this.targetGroups.values()].some(
      (group) => group.targets.get(instanceId)?.state === "draining",
    );
    if (draining) return;
    const waiters = this.drainWaiters.get(instanceId) ?? [];
    this.drainWaiters.delete(instanceId);
    for (const waiter of waiters) waiter();
  }

  private tickKey(targetGroup: SimTargetGroup, instanceId: string): string {
    return `${targetGroup.targetGroupArn}|${instanceId}`;
  }

  private cancelHealthTick(targetGroup: SimTargetGroup, instanceId: string): void {
    const key = this.tickKey(targetGroup, instanceId);
    this.healthTicks.get(key)?.cancel();
    this.healthTicks.delete(key);
  }

  private scheduleHealthTick(targetGroup: SimTargetGroup, target: SimTarget): void {
    this.cancelHealthTick(targetGroup, target.instanceId);
    const tick = this.clock.schedule(targetGroup.healthCheckIntervalSeconds * 1000, () =>
      this.healthTick(targetGroup, target),
    );
    this.healthTicks.set(this.tickKey(targetGroup, target.instanceId), tick);
  }

  /**
   * One health check of one target. Checks keep running only while the target could still change state,
   * so a fleet of steady targets costs nothing to simulate.
   */
  private healthTick(targetGroup: SimTargetGroup, target: SimTarget): void {
    this.healthTicks.delete(this.tickKey(targetGroup, target.instanceId));
    if (targetGroup.targets.get(target.instanceId) !== target || target.state === "draining") return;
    const instance = this.instances.get(target.instanceId);
    const ok = !!instance && this.answers(instance);
    if (ok) {
      target.okStreak++;
      target.failStreak = 0;
    } else {
      target.failStreak++;
      target.okStreak = 0;
    }
    if (ok && target.state !== "healthy" && target.okStreak >= targetGroup.healthyThresholdCount) {
      target.state = "healthy";
      target.reason = undefined;
      this.record({
        kind: "target-healthy",
        groupName: instance?.groupName,
        instanceId: target.instanceId,
        message: `${target.instanceId} healthy in ${targetGroup.targetGroupName}`,
      });
    } else if (
      !ok &&
      target.state !== "unhealthy" &&
      target.failStreak >= targetGroup.unhealthyThresholdCount
    ) {
      target.state = "unhealthy";
      target.reason = "Target.FailedHealthChecks";
      this.record({
        kind: "target-unhealthy",
        groupName: instance?.groupName,
        instanceId: target.instanceId,
        message: `${target.instanceId} unhealthy in ${targetGroup.targetGroupName}`,
      });
      this.onTargetUnhealthy(target.instanceId);
    }
    const mayRecover = !!instance && instance.state === "running" && instance.appReadyAt !== undefined;
    const steady = (target.state === "healthy" && ok) || (target.state === "unhealthy" && !mayRecover);
    if (!steady) this.scheduleHealthTick(targetGroup, target);
  }

  /** Restarts health checks of an instance's targets after something changed (shutdown, isolation). */
  wakeTargets(instanceId: string): void {
    for (const targetGroup of this.targetGroups.values()) {
      const target = targetGroup.targets.get(instanceId);
      if (
        target &&
        target.state !== "draining" &&
        !this.healthTicks.has(this.tickKey(targetGroup, instanceId))
      ) {
        this.scheduleHealthTick(targetGroup, target);
      }
    }
  }
}
