// EBS volumes and snapshots: evidence of a quarantined instance.
import type { SimSnapshot, SimVolume } from "../model";
import { SimAwsError, type SimWorld } from "../world";
import { type Route, route, tagList, tagsOf } from "./route";

type Filter = { Name: string; Values: string[] };

const attachedVolumes = (world: SimWorld) =>
  [...world.instances.values()]
    .filter((instance) => instance.state !== "terminated")
    .flatMap((instance) => instance.volumes.map((volume) => ({ instance, volume })));

/** A snapshot as CreateSnapshot(s) and DescribeSnapshots answer. */
function snapshotInfo(world: SimWorld, snapshot: SimSnapshot, volume?: SimVolume) {
  return {
    SnapshotId: snapshot.snapshotId,
    VolumeId: snapshot.volumeId,
    State: snapshot.state,
    Progress:
      snapshot.state === "completed"
        ? "100%"
        : `${Math.floor((100 * (world.clock.now() - snapshot.startTime)) / (snapshot.completesAt - snapshot.startTime))}%`,
    StartTime: new Date(snapshot.startTime),
    Description: snapshot.description,
    Encrypted: snapshot.encrypted,
    KmsKeyId: snapshot.kmsKeyId,
    VolumeSize: volume?.sizeGiB,
    OwnerId: world.accountId,
    Tags: tagList(snapshot.tags),
  };
}

/** Volume and snapshot operations. */
export const snapshotRoutes: Route[] = [
  route("ec2", "DescribeVolumes", "ec2:describe", false, (world, input) => {
    const filters = (input.Filters ?? []) as Filter[];
    const ids = input.VolumeIds as string[] | undefined;
    const volumes = attachedVolumes(world);
    for (const id of ids ?? [])
      if (!volumes.some(({ volume }) => volume.volumeId === id))
        throw new SimAwsError("InvalidVolume.NotFound", `The volume '${id}' does not exist.`);
    return {
      Volumes: volumes
        .filter(
          ({ instance, volume }) =>
            (!ids || ids.includes(volume.volumeId)) &&
            filters.every((filter) => {
              if (filter.Name === "attachment.instance-id")
                return filter.Values.includes(instance.instanceId);
              if (filter.Name === "volume-id") return filter.Values.includes(volume.volumeId);
              throw new SimAwsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);
            }),
        )
        .map(({ instance, volume }) => ({
          VolumeId: volume.volumeId,
          Size: volume.sizeGiB,
          AvailabilityZone: volume.availabilityZone,
          State: "in-use",
          Encrypted: volume.encrypted,
          KmsKeyId: volume.kmsKeyId,
          Attachments: [
            {
              InstanceId: instance.instanceId,
              VolumeId: volume.volumeId,
              Device: volume.deviceName,
              State: "attached",
              DeleteOnTermination: volume.deleteOnTermination,
            },
          ],
        })),
    };
  }),
  route("ec2", "CreateSnapshot", "ec2:CreateSnapshot", true, (world, input) => {
    const found = attachedVolumes(world).find(({ volume }) => volume.volumeId === input.VolumeId);
    if (!found)
      throw new SimAwsError("InvalidVolume.NotFound", `The volume '${input.VolumeId}' does not exist.`);
    const snapshot = world.startSnapshot(
      found.volume,
      input.Description ?? "",
      tagsOf(input.TagSpecifications, "snapshot"),
    );
    return snapshotInfo(world, snapshot, found.volume);
  }),
  /**
   * Crash-consistent snapshots of the EBS volumes attached to one instance, all taken at the same moment
   * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html); the root can be
   * left out, and so can named data volumes. An instance-store root is not an EBS volume: there is nothing of
   * it to snapshot.
   */
  route("ec2", "CreateSnapshots", "ec2:CreateSnapshot", true, (world, input) => {
    const spec = input.InstanceSpecification ?? {};
    const instance = world.requireInstance(spec.InstanceId);
    const excluded = new Set<string>(spec.ExcludeDataVolumeIds ?? []);
    const root = instance.volumes.find((volume) => volume.deviceName === "/dev/xvda");
    if (root && excluded.has(root.volumeId))
      throw new SimAwsError(
        "InvalidParameterValue",
        "The root volume cannot be excluded with ExcludeDataVolumeIds; use ExcludeBootVolume",
      );
    const volumes = instance.volumes.filter(
      (volume) => !excluded.has(volume.volumeId) && !(spec.ExcludeBootVolume && volume === root),
    );
    const set = world.newId("snapset");
    const tags = tagsOf(input.TagSpecifications, "snapshot");
    return {
      Snapshots: volumes.map((volume) => {
        // Volumes carry no tags here, so CopyTagsFromSource has nothing to copy.
        const snapshot = world.startSnapshot(volume, input.Description ?? "", tags, set);
        return { ...snapshotInfo(world, snapshot, volume), Tags: tagList(snapshot.tags) };
      }),
    };
  }),
  route("ec2", "DescribeSnapshots", "ec2:describe", false, (world, input) => {
    const ids = input.SnapshotIds as string[] | undefined;
    for (const id of ids ?? [])
      if (!world.snapshots.has(id))
        throw new SimAwsError("InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
    const filters = (input.Filters ?? []) as Filter[];
    const snapshots = [...world.snapshots.values()].filter(
      (snapshot) =>
        (!ids || ids.includes(snapshot.snapshotId)) &&
        filters.every((filter) => {
          if (filter.Name === "volume-id") return filter.Values.includes(snapshot.volumeId);
          const tag = filter.Name.startsWith("tag:") ? snapshot.tags.get(filter.Name.slice(4)) : undefined;
          if (filter.Name.startsWith("tag:")) return tag !== undefined && filter.Values.includes(tag);
          throw new SimAwsError("InvalidParameterValue", `The filter '${filter.Name}' is invalid`);
        }),
    );
    return { Snapshots: snapshots.map((snapshot) => snapshotInfo(world, snapshot)) };
  }),
];
