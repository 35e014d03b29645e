// Preserving an instance as evidence: protections, tags, EBS snapshots; and, only once the evidence
// exists, disposal.
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const ec2 = () => clientFor("ec2", () => new EC2Client(sdkClientDefaults));

/** Tags EC2 resources (instances, snapshots). */
export async function tagResources(resourceIds: string[], tags: Record<string, string>): Promise<void> {
  await callAws("CreateTags", () =>
    ec2().send(
      new CreateTagsCommand({
        Resources: resourceIds,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    ),
  );
}

/** Removes tags from EC2 resources. */
export async function untagResources(resourceIds: string[], keys: string[]): Promise<void> {
  await callAws("DeleteTags", () =>
    ec2().send(new DeleteTagsCommand({ Resources: resourceIds, Tags: keys.map((Key) => ({ Key })) })),
  );
}

/**
 * Makes an instance hard to destroy by accident: termination protection on, shutdown from inside stops it
 * (not terminates), and its EBS volumes survive termination.
 */
export async function protectInstance(instanceId: string, deviceNames: string[]): Promise<void> {
  await callAws("ModifyInstanceAttribute", () =>
    ec2().send(
      new ModifyInstanceAttributeCommand({ InstanceId: instanceId, DisableApiTermination: { Value: true } }),
    ),
  );
  await callAws("ModifyInstanceAttribute", () =>
    ec2().send(
      new ModifyInstanceAttributeCommand({
        InstanceId: instanceId,
        InstanceInitiatedShutdownBehavior: { Value: "stop" },
      }),
    ),
  );
  if (deviceNames.length > 0) {
    await callAws("ModifyInstanceAttribute", () =>
      ec2().send(
        new ModifyInstanceAttributeCommand({
          InstanceId: instanceId,
          BlockDeviceMappings: deviceNames.map((DeviceName) => ({
            DeviceName,
            Ebs: { DeleteOnTermination: false },
          })),
        }),
      ),
    );
  }
}

/** Snapshots one EBS volume, tagged as evidence of a case. */
export async function snapshotVolume(
  volumeId: string,
  description: string,
  tags: Record<string, string>,
): Promise<string> {
  const response = await callAws("CreateSnapshot", () =>
    ec2().send(
      new CreateSnapshotCommand({
        VolumeId: volumeId,
        Description: description.slice(0, 255),
        TagSpecifications: [
          { ResourceType: "snapshot", Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
        ],
      }),
    ),
  );
  return response.SnapshotId ?? "";
}

/** State (pending, completed, error) of snapshots; a snapshot that does not exist is reported "missing". */
export async function snapshotStates(
  snapshotIds: string[],
): Promise<{ snapshotId: string; volumeId?: string; state: string }[]> {
  if (snapshotIds.length === 0) return [];
  try {
    const response = await callAws("DescribeSnapshots", () =>
      ec2().send(new DescribeSnapshotsCommand({ SnapshotIds: snapshotIds })),
    );
    const found = new Map(
      (response.Snapshots ?? []).map((snapshot) => [snapshot.SnapshotId ?? "", snapshot]),
    );
    return snapshotIds.map((id) => ({
      snapshotId: id,
      volumeId: found.get(id)?.VolumeId,
      state: found.get(id)?.State ?? "missing",
    }));
  } catch (error) {
    if ((error as { context?: { code?: string } }).context?.code !== "InvalidSnapshot.NotFound") throw error;
    // One unknown id fails the whole call: ask one by one to tell which.
    const states = [];
    for (const id of snapshotIds)
      states.push(
        ...(snapshotIds.length > 1 ? await snapshotStates([id]) : [{ snapshotId: id, state: "missing" }]),
      );
    return states;
  }
}

/** Existing evidence snapshots of a case and volume (so a retried step does not snapshot twice). */
export async function findCaseSnapshots(
  caseId: string,
  volumeIds: string[],
): Promise<{ snapshotId: string; volumeId: string }[]> {
  const response = await callAws("DescribeSnapshots", () =>
    ec2().send(
      new DescribeSnapshotsCommand({
        OwnerIds: ["self"],
        Filters: [
          { Name: "tag:phoenix:case", Values: [caseId] },
          { Name: "volume-id", Values: volumeIds },
        ],
      }),
    ),
  );
  return (response.Snapshots ?? []).map((snapshot) => ({
    snapshotId: snapshot.SnapshotId ?? "",
    volumeId: snapshot.VolumeId ?? "",
  }));
}

/** Turns termination protection off again (disposal). */
export async function allowTermination(instanceId: string): Promise<void> {
  await callAws("ModifyInstanceAttribute", () =>
    ec2().send(
      new ModifyInstanceAttributeCommand({ InstanceId: instanceId, DisableApiTermination: { Value: false } }),
    ),
  );
}

/** Terminates standalone instances (disposal of evidence that has been preserved). */
export async function terminateInstances(instanceIds: string[]): Promise<void> {
  await callAws("TerminateInstances", () =>
    ec2().send(new TerminateInstancesCommand({ InstanceIds: instanceIds })),
  );
}
