// EC2 in the simulated account: instances from launch to termination, their network interfaces and
// connection tracking, security groups, and EBS snapshots.
import { type InstanceArgs, SimAccount, SimAwsError } from "./account";
import { bootSecondsOf } from "./launch-draws";
import type { SimInstance, SimSnapshot, SimVolume } from "./model";

/** EC2's behaviour; Auto Scaling and load balancing hook in where EC2 hands over to them. */
export abstract class SimEc2 extends SimAccount {
  protected ipCounter = 10;

  /** Auto Scaling takes a member that became running into service. */
  protected abstract enterService(instance: SimInstance): void;
  /** Auto Scaling forgets a member that terminated. */
  protected abstract leaveGroup(instance: SimInstance): void;
  /** Load balancers check an instance again after its network or state changed. */
  abstract wakeTargets(instanceId: string): void;

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
    // The n-th launch's times come from the n-th launch draw (launch-draws.ts), so a benchmark can know them.
    const draw = this.launchDraws.next();
    const runningIn = (draw.activitySeconds + draw.launchApiSeconds + draw.pendingToRunningSeconds) * 1000;
    const bootSeconds = bootSecondsOf(draw, this.images.get(args.imageId)?.bootSeconds ?? [10, 40]);
    this.clock.schedule(runningIn, () => this.instanceRunning(instance, bootSeconds));
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
  protected createInstance(
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
      tags: new Map(Object.entries(args.tagSpecifications?.volume ?? {})),
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
      // The template's instance tags, then the group's propagated tags (the group's win on the same key).
      // https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-tagging.html
      tags: new Map(Object.entries({ ...args.tagSpecifications?.instance, ...args.tags })),
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
          tags: new Map(Object.entries(args.tagSpecifications?.["network-interface"] ?? {})),
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

  protected nextIp(): string {
    const n = this.ipCounter++;
    return `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}`;
  }

  protected instanceRunning(instance: SimInstance, bootSeconds: number): void {
    if (instance.state !== "pending") return;
    instance.state = "running";
    const image = this.images.get(instance.imageId);
    if (image?.good !== false && !instance.neverAnswers)
      instance.appReadyAt = this.clock.now() + bootSeconds * 1000;
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

  /** EC2-level termination: shutting-down now, terminated 10-30 s later. */
  terminateEc2(instance: SimInstance): void {
    if (instance.state === "shutting-down" || instance.state === "terminated") return;
    instance.terminatedBy ??= {
      actor: this.actor,
      why: "TerminateInstances",
      caller: this.caller,
      at: this.clock.now(),
    };
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
}
