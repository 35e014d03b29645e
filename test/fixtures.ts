// Literal groups and instances for engine tests: plain data, no AWS.
import { type RolloutPolicy, RolloutPolicySchema } from "../functions/engine/policy";
import type {
  GroupSnapshot,
  InstanceSnapshot,
  ReplacementTarget,
  TargetGroupTiming,
} from "../functions/engine/types";

export const OLD_IMAGE = "ami-0000000000000aaaa";
export const NEW_IMAGE = "ami-0000000000000bbbb";
export const TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

/** The target every fixture rolls onto (version 2 of lt-web). */
export const target: ReplacementTarget = {
  launchTemplateId: "lt-0123456789abcdef0",
  launchTemplateName: "web",
  version: "2",
  imageId: NEW_IMAGE,
};

/** An instance id made from a number (i-00000000000000001 ...). */
export const instanceId = (n: number) => `i-${n.toString(16).padStart(17, "0")}`;

/** An in-service, healthy instance on the old image, launched `ageHours` before 2026-11-23T09:00Z. */
export function instance(
  n: number,
  overrides: Partial<InstanceSnapshot> & { ageHours?: number } = {},
): InstanceSnapshot {
  const { ageHours = 100 - n, ...rest } = overrides;
  const zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
  return {
    instanceId: instanceId(n),
    availabilityZone: zones[n % 3] as string,
    lifecycleState: "InService",
    healthStatus: "Healthy",
    launchTemplateVersion: "1",
    imageId: OLD_IMAGE,
    launchTime: new Date(Date.parse("2026-11-23T09:00:00Z") - ageHours * 3600_000).toISOString(),
    protectedFromScaleIn: false,
    tags: {},
    ...rest,
  };
}

/** A managed group of `size` instances (desired = size) with one target group. */
export function group(size: number, overrides: Partial<GroupSnapshot> = {}): GroupSnapshot {
  return {
    groupName: "web-prod",
    minSize: size,
    maxSize: size,
    desiredCapacity: size,
    launchTemplate: { launchTemplateId: target.launchTemplateId, launchTemplateName: "web", version: "1" },
    mixedInstancesPolicy: false,
    availabilityZones: ["us-east-1a", "us-east-1b", "us-east-1c"],
    targetGroupArns: [TG_ARN],
    suspendedProcesses: [],
    tags: { "phoenix:managed": "true" },
    instances: Array.from({ length: size }, (_, n) => instance(n + 1)),
    ...overrides,
  };
}

export const fastTargetGroup: TargetGroupTiming = {
  targetGroupArn: TG_ARN,
  healthCheckIntervalSeconds: 5,
  healthyThresholdCount: 2,
  unhealthyThresholdCount: 2,
  deregistrationDelaySeconds: 30,
};

/** A policy with defaults, overridden where given. */
export const policy = (overrides: Record<string, unknown> = {}): RolloutPolicy =>
  RolloutPolicySchema.parse(overrides);

export const NOW = new Date("2026-11-23T09:00:00Z");
