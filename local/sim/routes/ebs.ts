// EBS snapshots: evidence of a quarantined instance.
import { SimAwsError } from "../world";
import { type Route, route, tagList, tagsOf } from "./route";

/** Snapshot operations. */
export const snapshotRoutes: Route[] = [
  route("ec2", "CreateSnapshot", "ec2:CreateSnapshot", true, (world, input) => {
    const volume = [...world.instances.values()]
      .flatMap((instance) => instance.volumes)
      .find((item) => item.volumeId === input.VolumeId);
    if (!volume)
      throw new SimAwsError("InvalidVolume.NotFound", `The volume '${input.VolumeId}' does not exist.`);
    const snapshot = world.startSnapshot(
      volume,
      input.Description ?? "",
      tagsOf(input.TagSpecifications, "snapshot"),
    );
    return {
      SnapshotId: snapshot.snapshotId,
      VolumeId: volume.volumeId,
      State: snapshot.state,
      StartTime: new Date(snapshot.startTime),
      VolumeSize: volume.sizeGiB,
      Tags: tagList(snapshot.tags),
    };
  }),
  route("ec2", "DescribeSnapshots", "ec2:describe", false, (world, input) => {
    const ids = input.SnapshotIds as string[] | undefined;
    for (const id of ids ?? [])
      if (!world.snapshots.has(id))
        throw new SimAwsError("InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
    const filters = (input.Filters ?? []) as { Name: string; Values: string[] }[];
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
    return {
      Snapshots: snapshots.map((snapshot) => ({
        SnapshotId: snapshot.snapshotId,
        VolumeId: snapshot.volumeId,
        State: snapshot.state,
        Progress:
          snapshot.state === "completed"
            ? "100%"
            : `${Math.floor((100 * (world.clock.now() - snapshot.startTime)) / (snapshot.completesAt - snapshot.startTime))}%`,
        StartTime: new Date(snapshot.startTime),
        Description: snapshot.description,
        Tags: tagList(snapshot.tags),
      })),
    };
  }),
];
