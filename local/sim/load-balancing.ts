// Elastic Load Balancing in the simulated account: target registration, health checks at each target
// group's interval and thresholds, and draining for the deregistration delay.

import { SimAwsError } from "./account";
import { SimEc2 } from "./ec2-world";
import type { SimTarget, SimTargetGroup } from "./model";

/** Target groups' behaviour; Auto Scaling reacts to unhealthy targets. */
export abstract class SimLoadBalancing extends SimEc2 {
  protected readonly healthTicks = new Map<string, { cancel(): void }>();

  /** Auto Scaling's reaction to a target that became unhealthy (ELB health checks). */
  protected abstract onTargetUnhealthy(instanceId: string): void;

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
      instance.deregisteredCaller = this.caller;
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

  protected readonly drainWaiters = new Map<string, (() => void)[]>();

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

  protected notifyDrained(instanceId: string): void {
    const draining = [...this.targetGroups.values()].some(
      (group) => group.targets.get(instanceId)?.state === "draining",
    );
    if (draining) return;
    const waiters = this.drainWaiters.get(instanceId) ?? [];
    this.drainWaiters.delete(instanceId);
    for (const waiter of waiters) waiter();
  }

  protected tickKey(targetGroup: SimTargetGroup, instanceId: string): string {
    return `${targetGroup.targetGroupArn}|${instanceId}`;
  }

  protected cancelHealthTick(targetGroup: SimTargetGroup, instanceId: string): void {
    const key = this.tickKey(targetGroup, instanceId);
    this.healthTicks.get(key)?.cancel();
    this.healthTicks.delete(key);
  }

  protected scheduleHealthTick(targetGroup: SimTargetGroup, target: SimTarget): void {
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
  protected healthTick(targetGroup: SimTargetGroup, target: SimTarget): void {
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
