// The simulated account's plumbing: its state by resource, the clock, the log and events, request buckets and
// lookups. The AWS services' behaviour builds on it, one layer per service: EC2 (ec2-world.ts), Elastic Load
// Balancing (load-balancing.ts), Auto Scaling (world.ts).
import { GroupCensus } from "./census";
import { SimClock } from "./clock";
import { LaunchDraws } from "./launch-draws";
import {
  type BucketSpec,
  DEFAULT_BUCKETS,
  DEFAULT_TIMING,
  type SimAddress,
  type SimCaller,
  type SimGroup,
  type SimImage,
  type SimInstance,
  type SimKmsKey,
  type SimLaunchTemplate,
  type SimLogEntry,
  type SimNetworkAcl,
  type SimRole,
  type SimSecurityGroup,
  type SimSnapshot,
  type SimSubnet,
  type SimTargetGroup,
  type SimTemplateVersion,
  type SimTiming,
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
  /** The Phoenix function that put it, if Phoenix did. */
  caller?: SimCaller;
}

/** Faults a scenario or the chaos campaign injects into the account. */
export interface SimFaults {
  /** Share of API calls (0-1) answered with the service's throttling error. */
  throttleShare: number;
  /** The next N launches by Auto Scaling fail with InsufficientInstanceCapacity. */
  insufficientCapacityLaunches: number;
  /** The next N instances Auto Scaling launches boot, but their application never answers. */
  silentLaunches: number;
  /**
   * Calls ("ec2:CreateSnapshots") AWS refuses with the given error, `times` more times, only those whose
   * input `when` accepts if given (a test's or campaign's injection).
   */
  refusals: Map<string, { code: string; message: string; times: number; when?: (input: unknown) => boolean }>;
}

interface Bucket extends BucketSpec {
  tokens: number;
  updatedAt: number;
}

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
  /** The launch template version's TagSpecifications. */
  tagSpecifications?: SimTemplateVersion["tagSpecifications"];
  /** "spot" for a Spot instance. */
  lifecycle?: "spot";
  rootDeviceType?: "ebs" | "instance-store";
  /** What a shutdown from inside does (EC2's default for an EBS-backed instance: stop). */
  shutdownBehavior?: "stop" | "terminate";
  /** EBS volumes besides the root: device, size, and the KMS key (ARN) encrypting it, if any. */
  dataVolumes?: { deviceName: string; sizeGiB: number; kmsKeyId?: string }[];
  /** KMS key (ARN) encrypting the root volume, if any. */
  rootKmsKeyId?: string;
  /** IPv6 addresses on the primary interface. */
  ipv6Addresses?: string[];
  /** The primary interface gets a public IPv4 address from Amazon's pool. */
  publicIp?: boolean;
}

/** Options to build a world. */
export interface WorldOptions {
  startTime: number;
  seed: number;
  timing?: Partial<SimTiming>;
  buckets?: Record<string, Partial<BucketSpec>>;
  region?: string;
}

/** The account's state and plumbing, shared by every service layer. */
export abstract class SimAccount {
  readonly clock: SimClock;
  readonly random: Random;
  /** Each launched instance's random launch, boot and reaction times, in launch order (launch-draws.ts). */
  readonly launchDraws: LaunchDraws;
  readonly timing: SimTiming;
  readonly region: string;
  readonly accountId = "123456789012";
  readonly vpcId = "vpc-0a1b2c3d4e5f60789";
  readonly securityGroups = new Map<string, SimSecurityGroup>();
  readonly addresses = new Map<string, SimAddress>();
  readonly instanceProfiles = new Set<string>();
  /** The role of each instance profile (by ARN). */
  readonly instanceProfileRoles = new Map<string, string>();
  readonly roles = new Map<string, SimRole>();
  readonly kmsKeys = new Map<string, SimKmsKey>();
  readonly subnets = new Map<string, SimSubnet>();
  readonly networkAcls = new Map<string, SimNetworkAcl>();
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
    {
      name: string;
      version: string;
      tags: Record<string, string>;
      amis: { region: string; image: string; accountId: string }[];
    }
  >();
  readonly log: SimLogEntry[] = [];
  /** Active and serving members per group, kept up to date as they change (census.ts). */
  readonly census: GroupCensus = new GroupCensus(this);
  readonly faults: SimFaults = {
    throttleShare: 0,
    insufficientCapacityLaunches: 0,
    silentLaunches: 0,
    refusals: new Map(),
  };
  /**
   * Who is acting right now: "phoenix" while an API call is answered, "aws" for the account's own timers,
   * or a fault's name. Terminations and deregistrations remember it, so invariants can tell Phoenix's
   * doing from everything else's.
   */
  actor = "aws";
  /** While Phoenix's call is answered: which of its functions (and executions) made it. */
  caller?: SimCaller;
  /** API calls answered, by "service:Operation". */
  readonly calls = new Map<string, number>();
  /** API calls throttled, by "service:Operation". */
  readonly throttled = new Map<string, number>();
  protected readonly buckets = new Map<string, Bucket>();
  protected readonly listeners: ((entry: SimLogEntry) => void)[] = [];
  protected readonly changeListeners: (() => void)[] = [];
  protected readonly eventListeners: ((event: SimEvent) => void)[] = [];

  constructor(options: WorldOptions) {
    this.clock = new SimClock(options.startTime);
    this.random = new Random(options.seed);
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.launchDraws = new LaunchDraws(options.seed, this.timing);
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
    const full: SimLogEntry = { at: this.clock.now(), actor: this.actor, caller: this.caller, ...entry };
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
      caller: this.caller,
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

  /** How many instances of a group serve traffic (healthyInService's length, without scanning the group). */
  servingCount(groupName: string): number {
    this.requireGroup(groupName);
    return this.census.serving(groupName);
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

  /** An injected refusal of `operation` ("ec2:CreateSnapshots") with this input, used up once thrown. */
  refusalOf(operation: string, input: unknown): SimAwsError | undefined {
    const refusal = this.faults.refusals.get(operation);
    if (!refusal || refusal.times <= 0 || (refusal.when && !refusal.when(input))) return undefined;
    refusal.times -= 1;
    return new SimAwsError(refusal.code, refusal.message);
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

  /** Runs `work` as `actor` (see `actor`), on behalf of `caller` when Phoenix acts. */
  as<T>(actor: string, work: () => T, caller?: SimCaller): T {
    const [actorBefore, callerBefore] = [this.actor, this.caller];
    this.actor = actor;
    this.caller = caller;
    try {
      return work();
    } finally {
      this.actor = actorBefore;
      this.caller = callerBefore;
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
}
