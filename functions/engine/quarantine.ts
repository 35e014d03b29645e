// Quarantine-and-replace: which instances, what must be recorded about them, how they will be contained,
// and whether the group needs capacity first. Pure data in, data out. The manifest is quarantine-manifest.ts.
import { createHash } from "node:crypto";
import * as z from "zod";
import { GroupNotManagedError, InvalidInputError, PhoenixError } from "./errors";
import { InstanceIdSchema, type RolloutPolicy, RolloutPolicySchema } from "./policy";
import { hasControlCharacters } from "./trust";
import { type GroupSnapshot, MANAGED_TAG, QUARANTINE_TAG, type ReplacementTarget } from "./types";

/** Tags Phoenix puts on a quarantined instance (besides phoenix:quarantined = the case). */
export const QUARANTINE_TAGS = {
  case: "phoenix:case",
  reason: "phoenix:quarantine-reason",
  actor: "phoenix:quarantined-by",
  at: "phoenix:quarantined-at",
} as const;
/** Security group with no rules: nothing in, nothing out. */
export const ISOLATION_GROUP_NAME = "phoenix-isolation";
/** Security group allowing all traffic, applied first so that tracked connections become untracked. */
export const UNTRACK_GROUP_NAME = "phoenix-isolation-untrack";
/** Auto Scaling processes paused while an instance is quarantined, so the group cannot replace (terminate) it. */
export const QUARANTINE_SUSPENDED_PROCESSES = ["ReplaceUnhealthy", "AZRebalance"] as const;

/** The request to quarantine instances (CLI, "Quarantine Requested" event, GuardDuty finding). */
export const QuarantineRequestSchema = z
  .object({
    instanceIds: z.array(InstanceIdSchema).min(1).max(20),
    // Free text ends up in tags, logs and the evidence manifest: no control or bidirectional characters.
    reason: z
      .string()
      .trim()
      .min(3, "say why, in a few words")
      .max(256)
      .refine((text) => !hasControlCharacters(text), "must not contain control characters"),
    caseId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,64}$/, "letters, digits, '.', '_', ':' and '-' only (at most 64)")
      .optional(),
    requestedBy: z
      .string()
      .trim()
      .min(1)
      .max(256)
      .refine((text) => !hasControlCharacters(text), "must not contain control characters")
      .default("unknown"),
    dryRun: z.boolean().default(false),
  })
  .strict();
export type QuarantineRequest = z.infer<typeof QuarantineRequestSchema>;

/** Idle timeouts of connection tracking on an interface, seconds. */
export interface ConnectionTracking {
  tcpEstablishedTimeout?: number;
  udpStreamTimeout?: number;
  udpTimeout?: number;
}

/** One network interface of a suspect, as it was. */
export interface SuspectInterface {
  networkInterfaceId: string;
  groups: string[];
  /** 0 for the primary interface (eth0), the only one that can have a public IPv4 address from Amazon's pool. */
  deviceIndex?: number;
  subnetId?: string;
  privateIpAddress?: string;
  ipv6Addresses?: string[];
  /** Its public IPv4 address: an Elastic IP's, or one from Amazon's pool (`publicIpFromAmazon`). */
  publicIp?: string;
  publicIpFromAmazon?: boolean;
  connectionTracking?: ConnectionTracking;
}

/** The subnet of a suspect, for the optional network ACL containment. */
export interface SuspectSubnet {
  subnetId: string;
  /** The subnet is tagged phoenix:isolation-nacl=allowed: Phoenix may cut it off whole. */
  networkAclAllowed: boolean;
  networkAclId?: string;
  networkAclAssociationId?: string;
  /** Other instances in the subnet, which a network ACL would cut off too. */
  otherInstances: string[];
}

/** Everything about a suspect instance that the manifest records and release restores. */
export interface SuspectInstance {
  instanceId: string;
  state: string;
  imageId: string;
  instanceType: string;
  launchTime: string;
  availabilityZone: string;
  vpcId: string;
  subnetId: string;
  privateIpAddress?: string;
  tags: Record<string, string>;
  /** "spot" for a Spot instance (AWS refuses termination protection on it). */
  instanceLifecycle?: string;
  /** "ebs" or "instance-store" (an instance-store root cannot be stopped). */
  rootDeviceType?: string;
  rootDeviceName?: string;
  /** GB of instance store the instance type has: never in a snapshot, lost when the instance stops. */
  instanceStoreGiB?: number;
  networkInterfaces: SuspectInterface[];
  iamInstanceProfile?: { arn: string; associationId?: string };
  elasticIps: {
    allocationId: string;
    associationId?: string;
    publicIp: string;
    networkInterfaceId?: string;
  }[];
  volumes: {
    volumeId: string;
    deviceName: string;
    deleteOnTermination: boolean;
    sizeGiB?: number;
    encrypted?: boolean;
    kmsKeyId?: string;
  }[];
  groupName?: string;
  /** Its Auto Scaling lifecycle state (InService, Standby, ...), when in a group. */
  lifecycleState?: string;
  subnet?: SuspectSubnet;
}

/** How a quarantine contains: the stack's settings when it was planned. */
export interface ContainmentOptions {
  /** "tagged-subnets": also cut off, with a deny-all network ACL, the suspects' subnets tagged phoenix:isolation-nacl=allowed. */
  networkAcl: "off" | "tagged-subnets";
  /** Deny the suspects' roles to sessions issued to them before containment. */
  revokeCredentials: boolean;
  /** Instance profile put on a suspect instead of none. */
  isolationProfileArn?: string;
}

/** The group a quarantine takes instances out of, and what capacity it needs first. */
export interface QuarantineGroupPlan {
  groupName: string;
  desiredCapacity: number;
  minSize: number;
  maxSize: number;
  floor: number;
  /** Healthy in-service members other than the suspects. */
  healthyOthers: number;
  /** Desired capacity raised by this much before detaching (launch before the suspects leave). */
  raiseBy: number;
  targetGroupArns: string[];
  /** Longest deregistration delay of the group's target groups (detaching waits for it). */
  drainSeconds: number;
  suspendedBefore: string[];
  target: ReplacementTarget;
  policy: RolloutPolicy;
}

/** A validated quarantine: what will happen, before anything does. */
export interface QuarantinePlan {
  caseId: string;
  reason: string;
  requestedBy: string;
  requestedAt: string;
  instanceIds: string[];
  instances: SuspectInstance[];
  options: ContainmentOptions;
  group?: QuarantineGroupPlan;
}

/** An instance named in a request does not exist (or is already terminated). */
export class InstanceNotFoundError extends PhoenixError {
  override name = "InstanceNotFoundError";
}

/** An instance is already under quarantine; quarantining it again would overwrite its record. */
export class AlreadyQuarantinedError extends PhoenixError {
  override name = "AlreadyQuarantinedError";
}

/** Disposal refused: the evidence snapshots are missing or not complete. */
export class EvidenceIncompleteError extends PhoenixError {
  override name = "EvidenceIncompleteError";
}

/** A case id for a request that has none: the date and a hash of the instances and reason. */
export function caseIdFor(request: Pick<QuarantineRequest, "instanceIds" | "reason">, now: Date): string {
  const hash = createHash("sha256")
    .update(`${[...request.instanceIds].sort().join(",")}|${request.reason}`)
    .digest("hex")
    .slice(0, 8);
  return `case-${now.toISOString().slice(0, 10).replace(/-/g, "")}-${hash}`;
}

/**
 * Validates a quarantine request against what exists: every instance found and not terminated, none
 * already quarantined, all in one managed group or all standalone. Works out how much capacity the group
 * needs first so that detaching never takes healthy in-service capacity below its floor.
 */
export function planQuarantine(args: {
  request: QuarantineRequest;
  instances: SuspectInstance[];
  group?: GroupSnapshot;
  target?: ReplacementTarget;
  policy?: RolloutPolicy;
  drainSeconds?: number;
  options: ContainmentOptions;
  now: Date;
}): QuarantinePlan {
  const { request, instances, group, now } = args;
  const found = new Map(instances.map((instance) => [instance.instanceId, instance]));
  const missing = request.instanceIds.filter(
    (id) => !found.has(id) || ["terminated", "shutting-down"].includes(found.get(id)?.state ?? ""),
  );
  if (missing.length > 0) {
    throw new InstanceNotFoundError(`No such running or stopped instance: ${missing.join(", ")}`, {
      instanceIds: missing,
    });
  }
  const suspects = [...new Set(request.instanceIds)].map((id) => found.get(id) as SuspectInstance);
  const already = suspects.filter((instance) => instance.tags[QUARANTINE_TAG] !== undefined);
  if (already.length > 0) {
    throw new AlreadyQuarantinedError(
      `Already quarantined: ${already.map((instance) => `${instance.instanceId} (${instance.tags[QUARANTINE_TAG]})`).join(", ")}`,
      { instanceIds: already.map((instance) => instance.instanceId) },
    );
  }
  const groupNames = new Set(suspects.map((instance) => instance.groupName ?? ""));
  if (groupNames.size > 1) {
    throw new InvalidInputError([
      { path: "instanceIds", message: "must all be in the same Auto Scaling group, or all standalone" },
    ]);
  }
  const plan: QuarantinePlan = {
    caseId: request.caseId ?? caseIdFor(request, now),
    reason: request.reason,
    requestedBy: request.requestedBy,
    requestedAt: now.toISOString(),
    instanceIds: suspects.map((instance) => instance.instanceId),
    instances: suspects,
    options: args.options,
  };
  const groupName = suspects[0]?.groupName;
  if (!groupName) return plan;
  if (!group || !args.target || !args.policy)
    throw new PhoenixError(`Group ${groupName} of the suspects could not be read`);
  // Fail closed: Phoenix may only change groups that opted in (its IAM forbids the others anyway).
  if (group.tags[MANAGED_TAG] !== "true") throw new GroupNotManagedError(groupName);
  const suspectIds = new Set(plan.instanceIds);
  const floor = Math.ceil((group.desiredCapacity * args.policy.minHealthyPercent) / 100);
  const healthyOthers = group.instances.filter(
    (instance) =>
      !suspectIds.has(instance.instanceId) &&
      instance.lifecycleState === "InService" &&
      instance.healthStatus === "Healthy",
  ).length;
  // A suspect in Standby serves nothing and desired capacity does not count it: it needs no replacement
  // (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_EnterStandby.html).
  const inService = group.instances.filter(
    (instance) => suspectIds.has(instance.instanceId) && instance.lifecycleState === "InService",
  ).length;
  plan.group = {
    groupName,
    desiredCapacity: group.desiredCapacity,
    minSize: group.minSize,
    maxSize: group.maxSize,
    floor,
    healthyOthers,
    raiseBy: Math.min(inService, Math.max(0, floor - healthyOthers)),
    targetGroupArns: group.targetGroupArns,
    drainSeconds: args.drainSeconds ?? 0,
    suspendedBefore: group.suspendedProcesses,
    target: args.target,
    policy: args.policy,
  };
  return plan;
}

const SuspectSchema: z.ZodType<SuspectInstance> = z.object({
  instanceId: InstanceIdSchema,
  state: z.string(),
  imageId: z.string(),
  instanceType: z.string(),
  launchTime: z.string(),
  availabilityZone: z.string(),
  vpcId: z.string(),
  subnetId: z.string(),
  privateIpAddress: z.string().optional(),
  tags: z.record(z.string(), z.string()),
  instanceLifecycle: z.string().optional(),
  rootDeviceType: z.string().optional(),
  rootDeviceName: z.string().optional(),
  instanceStoreGiB: z.number().min(0).optional(),
  networkInterfaces: z.array(
    z.object({
      networkInterfaceId: z.string(),
      groups: z.array(z.string()),
      deviceIndex: z.number().int().optional(),
      subnetId: z.string().optional(),
      privateIpAddress: z.string().optional(),
      ipv6Addresses: z.array(z.string()).optional(),
      publicIp: z.string().optional(),
      publicIpFromAmazon: z.boolean().optional(),
      connectionTracking: z
        .object({
          tcpEstablishedTimeout: z.number().int().optional(),
          udpStreamTimeout: z.number().int().optional(),
          udpTimeout: z.number().int().optional(),
        })
        .optional(),
    }),
  ),
  iamInstanceProfile: z.object({ arn: z.string(), associationId: z.string().optional() }).optional(),
  elasticIps: z.array(
    z.object({
      allocationId: z.string(),
      associationId: z.string().optional(),
      publicIp: z.string(),
      networkInterfaceId: z.string().optional(),
    }),
  ),
  volumes: z.array(
    z.object({
      volumeId: z.string(),
      deviceName: z.string(),
      deleteOnTermination: z.boolean(),
      sizeGiB: z.number().optional(),
      encrypted: z.boolean().optional(),
      kmsKeyId: z.string().optional(),
    }),
  ),
  groupName: z.string().optional(),
  lifecycleState: z.string().optional(),
  subnet: z
    .object({
      subnetId: z.string(),
      networkAclAllowed: z.boolean(),
      networkAclId: z.string().optional(),
      networkAclAssociationId: z.string().optional(),
      otherInstances: z.array(z.string()),
    })
    .optional(),
});

/** The plan as the quarantine state machine carries it between steps. */
export const QuarantinePlanSchema = z.object({
  caseId: z.string().min(1),
  reason: z.string(),
  requestedBy: z.string(),
  requestedAt: z.string(),
  instanceIds: z.array(InstanceIdSchema).min(1),
  instances: z.array(SuspectSchema).min(1),
  options: z.object({
    networkAcl: z.enum(["off", "tagged-subnets"]),
    revokeCredentials: z.boolean(),
    isolationProfileArn: z.string().optional(),
  }),
  group: z
    .object({
      groupName: z.string(),
      desiredCapacity: z.number().int(),
      minSize: z.number().int(),
      maxSize: z.number().int(),
      floor: z.number().int(),
      healthyOthers: z.number().int(),
      raiseBy: z.number().int().min(0),
      targetGroupArns: z.array(z.string()),
      drainSeconds: z.number().min(0),
      suspendedBefore: z.array(z.string()),
      target: z.object({
        launchTemplateId: z.string(),
        launchTemplateName: z.string(),
        version: z.string(),
        imageId: z.string(),
      }),
      policy: RolloutPolicySchema,
    })
    .optional(),
});
