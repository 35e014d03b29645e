// Auto Scaling in the simulated account, on top of EC2 and load balancing: the whole simulated AWS account.

import { SimAwsError } from "./account";
import { SimLoadBalancing } from "./load-balancing";
import type { SimGroup, SimInstance } from "./model";

export { type InstanceArgs, SimAwsError, type SimEvent, type SimFaults, type WorldOptions } from "./account";

const ACTIVE_STATES = new Set(["Pending", "Pending:Wait", "Pending:Proceed", "InService"]);

/**
 * The simulated AWS account: EC2 instances, Auto Scaling groups, target groups, alarms and events, on a
 * simulated clock. It follows the AWS behaviour DESIGN.md lists: launch template versions resolved at
 * launch, launch and boot times, health checks with thresholds, draining before termination, MaxSize
 * checks, suspended processes, scale-in protection and termination policy, throttling buckets.
 */
export class SimWorld extends SimLoadBalancing {
  private readonly reconcileScheduled = new Set<string>();

  /**
   * Detaches a member from its group the way Auto Scaling does: Detaching, deregistered from every target
   * group and drained, then Detached and out of the group (still running). Without a decrement the group
   * launches a replacement.
   */
  detachFromGroup(instance: SimInstance, decrement: boolean): void {
    const group = instance.groupName ? this.groups.get(instance.groupName) : undefined;
    if (!group) return;
    instance.lifecycleState = "Detaching";
    instance.detachedBy = {
      actor: this.actor,
      caller: this.caller,
      at: this.clock.now(),
      decrement,
      groupName: group.groupName,
    };
    if (decrement) {
      group.desiredCapacity -= 1;
      group.desiredSetBy = { actor: this.actor, caller: this.caller };
      this.record({
        kind: "desired-changed",
        groupName: group.groupName,
        message: `desired capacity ${group.desiredCapacity + 1} -> ${group.desiredCapacity} (detach ${instance.instanceId})`,
        data: { from: group.desiredCapacity + 1, to: group.desiredCapacity },
      });
    }
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
    group.desiredSetBy = { actor: this.actor, caller: this.caller };
    this.record({
      kind: "desired-changed",
      groupName: group.groupName,
      message: `desired capacity ${before} -> ${desired} (${why})`,
      data: { from: before, to: desired },
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
      const by = group.desiredSetBy ?? { actor: "aws" };
      this.as(
        by.actor,
        () => {
          for (const victim of this.chooseScaleInVictims(group, active, excess)) {
            this.terminateFromGroup(victim, "scale-in");
          }
        },
        by.caller,
      );
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

  protected enterService(instance: SimInstance): void {
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
    instance.terminatedBy = { actor: this.actor, why, caller: this.caller, at: this.clock.now() };
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

  protected leaveGroup(instance: SimInstance): void {
    const group = instance.groupName ? this.groups.get(instance.groupName) : undefined;
    if (!group) return;
    group.instanceIds = group.instanceIds.filter((id) => id !== instance.instanceId);
    instance.lifecycleState = "Terminated";
    this.scheduleReconcile(group);
  }

  /** Auto Scaling's reaction to an unhealthy load balancer health check (ELB health check type). */
  protected onTargetUnhealthy(instanceId: string): void {
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
}
