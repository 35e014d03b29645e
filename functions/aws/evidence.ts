// Preserving an instance as evidence: protections, tags, EBS snapshots; and, only once the evidence
// exists, disposal.
import {
  CreateSnapshotCommand,
  CreateSnapshotsCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { AwsRequestRejectedError } from "../engine/errors";
import type { PreserveAction } from "../engine/evidence";
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
 * One protection of an instance kept as evidence: termination protection, shutdown from inside stops it,
 * its EBS volumes survive termination. Returns AWS's refusal (code and message) instead of throwing when
 * AWS rejects the request, so the caller can tell a limitation of the instance's kind from a failure.
 */
export async function protectInstance(
  instanceId: string,
  action: PreserveAction,
  deviceNames: string[],
): Promise<{ refused?: { code: string; message: string } }> {
  const input =
    action === "termination-protection"
      ? { InstanceId: instanceId, DisableApiTermination: { Value: true } }
      : action === "shutdown-stops"
        ? { InstanceId: instanceId, InstanceInitiatedShutdownBehavior: { Value: "stop" } }
        : {
            InstanceId: instanceId,
            BlockDeviceMappings: deviceNames.map((DeviceName) => ({
              DeviceName,
              Ebs: { DeleteOnTermination: false },
            })),
          };
  try {
    await callAws("ModifyInstanceAttribute", () => ec2().send(new ModifyInstanceAttributeCommand(input)));
    return {};
  } catch (error) {
    if (!(error instanceof AwsRequestRejectedError)) throw error;
    return { refused: { code: String((error.context as { code?: string }).code), message: error.message } };
  }
}

/**
 * Crash-consistent snapshots of every EBS volume of an instance, taken together by one CreateSnapshots call
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html), tagged as evidence.
 * `exclude` leaves out volumes already snapshotted. Returns AWS's refusal instead of throwing when AWS
 * rejects the request, so the caller can fall back to one snapshot per volume and say so.
 */
export async function snapshotInstance(
  instanceId: string,
  description: string,
  tags: Record<string, string>,
  exclude: { boot: boolean; dataVolumeIds: string[] },
): Promise<{ snapshots: { snapshotId: string; volumeId: string }[]; refused?: string }> {
  try {
    const response = await callAws("CreateSnapshots", () =>
      ec2().send(
        new CreateSnapshotsCommand({
          InstanceSpecification: {
            InstanceId: instanceId,
            ExcludeBootVolume: exclude.boot || undefined,
            ExcludeDataVolumeIds: exclude.dataVolumeIds.length > 0 ? exclude.dataVolumeIds : undefined,
          },
          Description: description.slice(0, 255),
          TagSpecifications: [
            { ResourceType: "snapshot", Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
          ],
        }),
      ),
    );
    return {
      snapshots: (response.Snapshots ?? []).map((snapshot) => ({
        snapshotId: snapshot.SnapshotId ?? "",
        volumeId: snapshot.VolumeId ?? "",
      })),
    };
  } catch (error) {
    if (!(error instanceof AwsRequestRejectedError)) throw error;
    return { snapshots: [], refused: error.message };
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
