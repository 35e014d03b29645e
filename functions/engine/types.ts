// Plain data the engine decides on. The aws/ adapters build these from API responses; nothing here knows
// about the SDK, so every decision can be tested with literal objects and a fixed clock.

/** Tag marking a group (and its instances) as managed by Phoenix. */
export const MANAGED_TAG = "phoenix:managed";
/** Tag carried by an instance under quarantine; such an instance is never replaced or terminated. */
export const QUARANTINE_TAG = "phoenix:quarantined";

/** A launch template reference as set on a group (version may be "$Latest" or "$Default"). */
export interface LaunchTemplateRef {
  launchTemplateId: string;
  launchTemplateName: string;
  version: string;
}

/** One instance of a group, joined from Auto Scaling and EC2. */
export interface InstanceSnapshot {
  instanceId: string;
  availabilityZone: string;
  /** Auto Scaling lifecycle state: Pending, InService, Terminating, Standby, ... */
  lifecycleState: string;
  /** Auto Scaling health status: Healthy or Unhealthy. */
  healthStatus: string;
  /** Launch template version the instance was launched from, as Auto Scaling reports it. */
  launchTemplateVersion?: string;
  imageId?: string;
  /** ISO 8601 launch time from EC2. */
  launchTime?: string;
  protectedFromScaleIn: boolean;
  tags: Record<string, string>;
}

/** An Auto Scaling group and the settings a replacement changes and must restore. */
export interface GroupSnapshot {
  groupName: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  launchTemplate?: LaunchTemplateRef;
  /** True when the group uses a mixed instances policy (not supported yet). */
  mixedInstancesPolicy: boolean;
  availabilityZones: string[];
  targetGroupArns: string[];
  suspendedProcesses: string[];
  tags: Record<string, string>;
  instances: InstanceSnapshot[];
}

/** The launch template version a replacement rolls onto, pinned to an explicit number. */
export interface ReplacementTarget {
  launchTemplateId: string;
  launchTemplateName: string;
  version: string;
  imageId: string;
}

/** Health-check and draining settings of one target group, used for waits and estimates. */
export interface TargetGroupTiming {
  targetGroupArn: string;
  healthCheckIntervalSeconds: number;
  healthyThresholdCount: number;
  unhealthyThresholdCount: number;
  deregistrationDelaySeconds: number;
}

/** Target health states as ELBv2 reports them. */
export type TargetState = "initial" | "healthy" | "unhealthy" | "unused" | "draining" | "unavailable";

/** The health of one target in one target group. */
export interface TargetHealth {
  targetGroupArn: string;
  instanceId: string;
  state: TargetState;
  reason?: string;
}
