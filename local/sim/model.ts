// The data of the simulated AWS account. Behaviour lives in world.ts; this file only says what exists.

/** Timing model of the simulated account; every number can be changed per scenario. */
export interface SimTiming {
  /** Latency of each API call, in milliseconds [min, max]. */
  apiLatencyMs: [number, number];
  /** Delay before Auto Scaling acts on a desired-capacity change, seconds [min, max]. */
  asgReactSeconds: [number, number];
  /** EC2 launch API time, seconds (jittered). */
  launchApiSeconds: number;
  /** EC2 pending -> running, seconds (jittered). */
  pendingToRunningSeconds: number;
  /** Jitter applied to launch timings, as a fraction (0.3 = +-30%). */
  launchJitter: number;
  /** shutting-down -> terminated, seconds [min, max]. */
  shuttingDownSeconds: [number, number];
  /** Delay before Auto Scaling retries a failed launch, seconds. */
  launchRetrySeconds: number;
  /** An EBS snapshot completes after this many seconds per GiB (plus a minute). */
  snapshotSecondsPerGiB: number;
  /**
   * How long a new security group stays invisible to other calls, seconds [min, max]: EC2 is eventually
   * consistent, so a call right after CreateSecurityGroup may answer InvalidGroup.NotFound
   * (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
   */
  securityGroupPropagationSeconds: [number, number];
  /** Instance-role credentials from the instance metadata service: a new set every hour... */
  credentialRefreshSeconds: number;
  /** ...each valid this long after it was issued. */
  credentialLifetimeSeconds: number;
}

/** AWS-like defaults from DESIGN.md. */
export const DEFAULT_TIMING: SimTiming = {
  apiLatencyMs: [50, 150],
  asgReactSeconds: [5, 10],
  launchApiSeconds: 5,
  pendingToRunningSeconds: 18,
  launchJitter: 0.3,
  shuttingDownSeconds: [10, 30],
  launchRetrySeconds: 10,
  snapshotSecondsPerGiB: 3,
  securityGroupPropagationSeconds: [0, 0],
  credentialRefreshSeconds: 3600,
  credentialLifetimeSeconds: 6 * 3600,
};

/** A token bucket: `burst` calls at once, refilled at `refillPerSecond`. */
export interface BucketSpec {
  burst: number;
  refillPerSecond: number;
}

/**
 * Request buckets per API family. EC2's follow AWS's documented defaults; Auto Scaling, ELB, CloudWatch and
 * EventBridge do not publish theirs, so these are conservative assumptions.
 */
export const DEFAULT_BUCKETS: Record<string, BucketSpec> = {
  "ec2:describe": { burst: 100, refillPerSecond: 20 },
  "ec2:mutate": { burst: 50, refillPerSecond: 5 },
  "ec2:RunInstances": { burst: 5, refillPerSecond: 2 },
  "ec2:TerminateInstances": { burst: 100, refillPerSecond: 5 },
  "ec2:CreateSnapshot": { burst: 100, refillPerSecond: 5 },
  "ec2:CreateTags": { burst: 100, refillPerSecond: 10 },
  /** Resource bucket: instances launched (by anyone, including Auto Scaling). */
  "ec2:instances": { burst: 1000, refillPerSecond: 2 },
  "autoscaling:describe": { burst: 40, refillPerSecond: 20 },
  "autoscaling:mutate": { burst: 20, refillPerSecond: 5 },
  "elbv2:describe": { burst: 40, refillPerSecond: 20 },
  "elbv2:mutate": { burst: 20, refillPerSecond: 10 },
  "cloudwatch:describe": { burst: 50, refillPerSecond: 10 },
  "events:put": { burst: 100, refillPerSecond: 50 },
  "sfn:api": { burst: 100, refillPerSecond: 25 },
  "ssm:api": { burst: 40, refillPerSecond: 20 },
  "dynamodb:api": { burst: 1000, refillPerSecond: 500 },
  "imagebuilder:api": { burst: 20, refillPerSecond: 10 },
  "iam:api": { burst: 20, refillPerSecond: 10 },
  "kms:api": { burst: 100, refillPerSecond: 50 },
};

/**
 * Which of Phoenix's functions made a call: the Lambda (its serverless.yml key) and, for a Task, the
 * execution and state that ran it. The simulator learns it from the local runner, never from Phoenix.
 */
export interface SimCaller {
  functionKey: string;
  executionArn?: string;
  stateName?: string;
  /** For a direct invocation (a rule, a schedule): when Lambda was invoked. */
  invokedAt?: number;
}

/** Who did something: "phoenix" (with the calling function), "aws", or a fault's name. */
export interface SimActor {
  actor: string;
  caller?: SimCaller;
}

/** A machine image; a bad one boots but its application never answers. */
export interface SimImage {
  imageId: string;
  name: string;
  /** The account that owns the AMI (another account's AMI shared with this one, or this account's). */
  ownerId: string;
  /** EC2's image state: available, pending, failed, disabled, ... */
  state: string;
  /** When EC2 created the AMI (epoch ms). */
  createdAt: number;
  /** When the AMI is deprecated from (epoch ms), if it is. */
  deprecatedAt?: number;
  tags: Map<string, string>;
  good: boolean;
  /** Seconds from running until the application answers [min, max]. */
  bootSeconds: [number, number];
  /** HTTP status the application answers probes with (default 200). */
  httpStatus: number;
}

/** One launch template version's data. */
export interface SimTemplateVersion {
  versionNumber: number;
  imageId: string;
  instanceType: string;
  createdAt: number;
  description?: string;
  securityGroupIds: string[];
  iamInstanceProfileArn?: string;
  /** TagSpecifications: tags given at launch to each kind of resource the version launches. */
  tagSpecifications: Partial<Record<LaunchTaggedResource, Record<string, string>>>;
}

/** Resources a launch template's TagSpecifications can tag at launch. */
export type LaunchTaggedResource = "instance" | "volume" | "network-interface";

/** A security group rule: protocol "-1" is all traffic. */
/** A security group rule: protocol "-1" is all traffic; an IPv6 rule's cidr has colons ("::/0"). */
export interface SimRule {
  protocol: string;
  fromPort?: number;
  toPort?: number;
  cidr: string;
}

export interface SimSecurityGroup {
  groupId: string;
  groupName: string;
  vpcId: string;
  description: string;
  ingress: SimRule[];
  egress: SimRule[];
  tags: Map<string, string>;
  /** Until then other calls answer InvalidGroup.NotFound (eventual consistency after CreateSecurityGroup). */
  visibleAt?: number;
}

/** A network connection of an instance, for modelling connection tracking. */
export interface SimConnection {
  id: string;
  /** Address and port of the other end: "203.0.113.66:4444", or "[2001:db8::66]:4444" for IPv6. */
  peer: string;
  port: number;
  direction: "inbound" | "outbound";
  protocol: "tcp" | "udp" | "icmp";
  /** Tracked connections survive security group changes; untracked ones end when no rule allows them. */
  tracked: boolean;
  /**
   * Set for flows EC2 tracks automatically whatever the rules (through a Network Load Balancer, NAT gateway,
   * Gateway Load Balancer, Transit Gateway, ...): no security group change untracks them.
   */
  automaticallyTrackedBy?: string;
  /** Seconds between its packets; absent: busy all the time, so it never idles out of tracking. */
  idleSeconds?: number;
  open: boolean;
  closedAt?: number;
  /** A tracked flow no rule allows any more ends at this moment, when it idles out. */
  closesAt?: number;
}

/** Idle timeouts of connection tracking on a network interface, seconds. */
export interface SimConnectionTracking {
  tcpEstablishedTimeout: number;
  udpStreamTimeout: number;
  udpTimeout: number;
}

export interface SimNetworkInterface {
  networkInterfaceId: string;
  subnetId: string;
  /** 0 for the primary interface (eth0). */
  deviceIndex: number;
  privateIpAddress: string;
  ipv6Addresses: string[];
  groups: string[];
  /** Elastic IP association, if any. */
  association?: { allocationId: string; associationId: string; publicIp: string };
  tags: Map<string, string>;
  /** A public IPv4 address from Amazon's pool (not an Elastic IP). */
  publicIp?: string;
  /** The interface gets a public IPv4 address from Amazon's pool whenever it has no Elastic IP. */
  assignPublicIp: boolean;
  connectionTracking: SimConnectionTracking;
}

export interface SimVolume {
  volumeId: string;
  sizeGiB: number;
  availabilityZone: string;
  deviceName: string;
  deleteOnTermination: boolean;
  tags: Map<string, string>;
  encrypted: boolean;
  /** The KMS key encrypting it (an ARN), when encrypted. */
  kmsKeyId?: string;
}

export interface SimSnapshot {
  snapshotId: string;
  volumeId: string;
  description: string;
  state: "pending" | "completed" | "error";
  startTime: number;
  completesAt: number;
  tags: Map<string, string>;
  encrypted: boolean;
  kmsKeyId?: string;
  /** Snapshots taken together by one CreateSnapshots call share it: one crash-consistent set. */
  snapshotSet?: string;
}

/** A subnet, its tags and the network ACL it is associated with. */
export interface SimSubnet {
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  tags: Map<string, string>;
  networkAclAssociation: { associationId: string; networkAclId: string };
}

/** One numbered rule of a network ACL; the implicit last rule denies everything. */
export interface SimNetworkAclEntry {
  ruleNumber: number;
  egress: boolean;
  protocol: string;
  ruleAction: "allow" | "deny";
  cidr: string;
}

export interface SimNetworkAcl {
  networkAclId: string;
  vpcId: string;
  isDefault: boolean;
  entries: SimNetworkAclEntry[];
  tags: Map<string, string>;
}

export interface SimKmsKey {
  keyId: string;
  arn: string;
  state: "Enabled" | "Disabled" | "PendingDeletion";
  manager: "CUSTOMER" | "AWS";
  deletionDate?: number;
}

/** An IAM role, with its inline policies (name -> JSON document). */
export interface SimRole {
  roleName: string;
  arn: string;
  tags: Map<string, string>;
  inlinePolicies: Map<string, string>;
}

export interface SimAddress {
  allocationId: string;
  publicIp: string;
  associationId?: string;
  instanceId?: string;
  networkInterfaceId?: string;
  tags: Map<string, string>;
}

export interface SimLaunchTemplate {
  launchTemplateId: string;
  launchTemplateName: string;
  versions: Map<number, SimTemplateVersion>;
  defaultVersion: number;
  latestVersion: number;
  tags: Map<string, string>;
}

export type Ec2State = "pending" | "running" | "shutting-down" | "terminated" | "stopping" | "stopped";

export interface SimInstance {
  instanceId: string;
  imageId: string;
  instanceType: string;
  availabilityZone: string;
  privateIpAddress: string;
  launchTime: number;
  state: Ec2State;
  /** "spot" for a Spot instance; absent for On-Demand. */
  instanceLifecycle?: "spot";
  rootDeviceType: "ebs" | "instance-store";
  launchTemplate?: { launchTemplateId: string; launchTemplateName: string; version: string };
  tags: Map<string, string>;
  /** When the application starts answering; undefined: never (bad image). */
  appReadyAt?: number;
  httpStatus: number;
  /** Auto Scaling membership, if any. */
  groupName?: string;
  lifecycleState?: string;
  healthStatus: "Healthy" | "Unhealthy";
  protectedFromScaleIn: boolean;
  disableApiTermination: boolean;
  shutdownBehavior: "stop" | "terminate";
  vpcId: string;
  subnetId: string;
  networkInterfaces: SimNetworkInterface[];
  iamInstanceProfile?: { arn: string; associationId: string };
  /** Each time the instance held a role through its profile: its credentials are that role's sessions. */
  roleSessions: { roleArn: string; from: number; to?: number }[];
  volumes: SimVolume[];
  connections: SimConnection[];
  /** Seen by the observer: when the instance was deregistered and when its draining ended. */
  deregisteredAt?: number;
  drainedAt?: number;
  /** Who took it out of its target groups ("phoenix" for an API call, else what AWS or a fault did). */
  deregisteredBy?: string;
  /** The Phoenix function that deregistered it, if Phoenix did. */
  deregisteredCaller?: SimCaller;
  /** Who detached it from its group, when, and whether desired capacity went down with it. */
  detachedBy?: SimActor & { at: number; decrement: boolean; groupName: string };
  /** Who set it terminating, and why. */
  terminatedBy?: { actor: string; why: string; caller?: SimCaller; at?: number };
  /** A fault: this instance's application never answers, whatever its image. */
  neverAnswers?: boolean;
}

export interface SimGroup {
  groupName: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  launchTemplate: { launchTemplateId: string; launchTemplateName: string; version: string };
  availabilityZones: string[];
  targetGroupArns: string[];
  suspendedProcesses: Set<string>;
  tags: Map<string, string>;
  healthCheckType: "EC2" | "ELB";
  healthCheckGracePeriod: number;
  /** Member instance ids in launch order (terminated ones are removed). */
  instanceIds: string[];
  newInstancesProtectedFromScaleIn: boolean;
  /** Who last changed desired capacity: a scale-in it causes is theirs. */
  desiredSetBy?: SimActor;
  /** Instances AZRebalance launched above desired capacity and will terminate the excess for itself. */
  rebalanceSurplus?: number;
  /** Instances an instance refresh runs above desired capacity (MaxHealthyPercentage over 100). */
  refreshSurplus?: number;
  /** The launch template an instance refresh launches from while it runs (its desired configuration). */
  refreshLaunchTemplate?: { launchTemplateId: string; version: string };
}

export type TargetStateName = "initial" | "healthy" | "unhealthy" | "draining";

export interface SimTarget {
  instanceId: string;
  state: TargetStateName;
  reason?: string;
  registeredAt: number;
  okStreak: number;
  failStreak: number;
}

export interface SimTargetGroup {
  targetGroupArn: string;
  targetGroupName: string;
  healthCheckIntervalSeconds: number;
  healthyThresholdCount: number;
  unhealthyThresholdCount: number;
  deregistrationDelaySeconds: number;
  targets: Map<string, SimTarget>;
  tags: Map<string, string>;
}

/** One thing that happened in the simulated account, for the timeline and for assertions. */
export interface SimLogEntry {
  at: number;
  kind:
    | "instance-launched"
    | "instance-running"
    | "instance-in-service"
    | "instance-terminating"
    | "instance-terminated"
    | "launch-failed"
    | "target-healthy"
    | "target-unhealthy"
    | "target-draining"
    | "target-drained"
    | "desired-changed"
    | "group-updated"
    | "processes"
    | "event"
    | "instance-detaching"
    | "instance-detached"
    | "security-groups-changed"
    | "connection-closed"
    | "snapshot-started"
    | "snapshot-completed"
    | "instance-isolated"
    | "network-acl-changed"
    | "public-address-changed"
    | "role-policy-changed";
  groupName?: string;
  instanceId?: string;
  message: string;
  /** Who acted (filled in by the account from the actor of the moment). */
  actor?: string;
  caller?: SimCaller;
  /** Structured facts for monitors: desired capacity from/to, processes, sizes. */
  data?: Record<string, unknown>;
}
