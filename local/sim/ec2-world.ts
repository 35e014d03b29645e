// EC2 in the simulated account: instances from launch to termination, their interfaces, volumes and
// instance profiles, and EBS snapshots. Networking (groups, ACLs, connection tracking) is network-world.ts.
import type { InstanceArgs } from "./account";
import { bootSecondsOf } from "./launch-draws";
import type { SimInstance, SimSnapshot, SimVolume } from "./model";
import { DEFAULT_CONNECTION_TRACKING, SimNetwork } from "./network-world";

/** EC2's behaviour; Auto Scaling and load balancing hook in where EC2 hands over to them. */
export abstract class SimEc2 extends SimNetwork {
  protected ipCounter = 10;

  /** Auto Scaling takes a member that became running into service. */
  protected abstract enterService(instance: SimInstance): void;
  /** Auto Scaling forgets a member that terminated. */
  protected abstract leaveGroup(instance: SimInstance): void;

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

  /** An instance with its network interface, volumes and instance profile, as RunInstances makes it. */
  protected createInstance(
    args: InstanceArgs,
    at: { state: "pending" | "running"; launchTime: number; appReadyAt?: number },
  ): SimInstance {
    const image = this.images.get(args.imageId);
    const privateIpAddress = this.nextIp();
    const instanceId = this.newId("i");
    const subnet = this.subnetOf(args.availabilityZone);
    const rootDeviceType = args.rootDeviceType ?? "ebs";
    const volume = (deviceName: string, sizeGiB: number, kmsKeyId?: string): SimVolume => ({
      volumeId: this.newId("vol"),
      sizeGiB,
      availabilityZone: args.availabilityZone,
      deviceName,
      // Volumes attached at launch go with the instance unless told otherwise.
      deleteOnTermination: true,
      tags: new Map(Object.entries(args.tagSpecifications?.volume ?? {})),
      encrypted: kmsKeyId !== undefined,
      kmsKeyId,
    });
    // An instance-store root is not an EBS volume: EC2 lists only EBS volumes in the block device mappings.
    const volumes = [
      ...(rootDeviceType === "ebs" ? [volume("/dev/xvda", 30, args.rootKmsKeyId)] : []),
      ...(args.dataVolumes ?? []).map((data) => volume(data.deviceName, data.sizeGiB, data.kmsKeyId)),
    ];
    const instance: SimInstance = {
      instanceId,
      imageId: args.imageId,
      instanceType: args.instanceType,
      availabilityZone: args.availabilityZone,
      privateIpAddress,
      launchTime: at.launchTime,
      state: at.state,
      instanceLifecycle: args.lifecycle,
      rootDeviceType,
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
      // An instance-store backed instance can only terminate when shut down from inside.
      shutdownBehavior: rootDeviceType === "ebs" ? (args.shutdownBehavior ?? "stop") : "terminate",
      vpcId: this.vpcId,
      subnetId: subnet.subnetId,
      networkInterfaces: [
        {
          networkInterfaceId: this.newId("eni"),
          subnetId: subnet.subnetId,
          deviceIndex: 0,
          privateIpAddress,
          ipv6Addresses: [...(args.ipv6Addresses ?? [])],
          groups: [...(args.securityGroupIds ?? [])],
          tags: new Map(Object.entries(args.tagSpecifications?.["network-interface"] ?? {})),
          assignPublicIp: args.publicIp === true,
          connectionTracking: { ...DEFAULT_CONNECTION_TRACKING },
        },
      ],
      roleSessions: [],
      volumes,
      connections: [],
    };
    if (args.iamInstanceProfileArn)
      this.associateProfile(instance, args.iamInstanceProfileArn, at.launchTime);
    for (const eni of instance.networkInterfaces) this.settlePublicIp(instance, eni);
    this.instances.set(instance.instanceId, instance);
    return instance;
  }

  /** Gives an instance a profile under a new association: from now on its credentials are sessions of its role. */
  associateProfile(instance: SimInstance, arn: string, at = this.clock.now()): string {
    this.endProfile(instance, at);
    instance.iamInstanceProfile = { arn, associationId: this.newId("iip-assoc") };
    const roleName = this.instanceProfileRoles.get(arn);
    const role = roleName ? this.roles.get(roleName) : undefined;
    if (role) instance.roleSessions.push({ roleArn: role.arn, from: at });
    return instance.iamInstanceProfile.associationId;
  }

  /** Takes an instance's profile away: no new credentials are issued to it (those issued stay valid). */
  endProfile(instance: SimInstance, at = this.clock.now()): void {
    instance.iamInstanceProfile = undefined;
    for (const session of instance.roleSessions) session.to ??= at;
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

  /**
   * Starts an EBS snapshot; it completes after a time proportional to the volume's size. A snapshot of an
   * encrypted volume is encrypted with the volume's KMS key
   * (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html). Snapshots taken by one
   * CreateSnapshots call share `snapshotSet`: they are crash-consistent with each other.
   */
  startSnapshot(
    volume: SimVolume,
    description: string,
    tags: Record<string, string>,
    snapshotSet?: string,
  ): SimSnapshot {
    const seconds = 60 + volume.sizeGiB * this.timing.snapshotSecondsPerGiB;
    const snapshot: SimSnapshot = {
      snapshotId: this.newId("snap"),
      volumeId: volume.volumeId,
      description,
      state: "pending",
      startTime: this.clock.now(),
      completesAt: this.clock.now() + seconds * 1000,
      tags: new Map(Object.entries(tags)),
      encrypted: volume.encrypted,
      kmsKeyId: volume.kmsKeyId,
      snapshotSet,
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
