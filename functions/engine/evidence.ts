// Preserving a suspect as evidence, as data: which protections apply to its kind of instance (and which AWS
// refuses for it, recorded as limitations rather than failures), which KMS keys its evidence depends on, and
// what no snapshot can hold. Pure: no SDK.
import { PhoenixError } from "./errors";
import type { SuspectInstance } from "./quarantine";
import type { EvidenceKey } from "./quarantine-manifest";

/** One protection of a preserved instance. */
export type PreserveAction = "termination-protection" | "shutdown-stops" | "keep-volumes";

/** What each protection does, for the manifest. */
export const PRESERVE_ACTION_TEXT: Record<PreserveAction, string> = {
  "termination-protection": "termination protection on",
  "shutdown-stops": "a shutdown from inside stops the instance instead of terminating it",
  "keep-volumes": "EBS volumes kept when the instance terminates",
};

/**
 * AWS error codes that mean "not for this kind of instance" (termination protection on a Spot instance
 * answers UnsupportedOperation; a shutdown behaviour on an instance-store root answers
 * InvalidParameterCombination): a limitation of the evidence, not a failed quarantine.
 */
export const REFUSED_FOR_KIND = new Set([
  "UnsupportedOperation",
  "InvalidParameterCombination",
  "UnsupportedInstanceAttribute",
  "OperationNotPermitted",
]);

const SPOT_TERMINATION =
  "AWS does not allow termination protection on Spot instances (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_ChangingDisableAPITermination.html); a Spot interruption can still stop, hibernate or terminate it with two minutes' notice";
const INSTANCE_STORE_SHUTDOWN =
  "an instance-store root cannot be stopped: a shutdown from inside terminates the instance and loses its instance store (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_ChangingInstanceInitiatedShutdownBehavior.html)";

/** The protections to ask AWS for, and those already known to be impossible for this instance (with why). */
export function preserveSteps(instance: SuspectInstance): { action: PreserveAction; impossible?: string }[] {
  return [
    {
      action: "termination-protection",
      impossible: instance.instanceLifecycle === "spot" ? SPOT_TERMINATION : undefined,
    },
    {
      action: "shutdown-stops",
      impossible: instance.rootDeviceType === "instance-store" ? INSTANCE_STORE_SHUTDOWN : undefined,
    },
    ...(instance.volumes.length > 0 ? [{ action: "keep-volumes" as const }] : []),
  ];
}

/** Whether a key can still decrypt the evidence: enabled (a disabled key or one pending deletion cannot be used). */
export function keyUsable(state: string): boolean {
  return state === "Enabled";
}

/**
 * What the quarantine did not preserve, for the manifest: memory (never), instance store (never in a
 * snapshot; lost when the instance stops), volumes with no completed snapshot, and evidence whose KMS key
 * cannot be used (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html).
 */
export function notPreserved(
  instance: SuspectInstance,
  evidence: { snapshotVolumes: string[]; keys: EvidenceKey[] },
): string[] {
  const missing: string[] = [
    "memory: Phoenix takes no memory image; capture it (for example with a memory acquisition tool through Systems Manager) before anything stops the instance",
  ];
  const store = instance.instanceStoreGiB ?? 0;
  if (instance.rootDeviceType === "instance-store" || store > 0)
    missing.push(
      `instance store${store > 0 ? ` (${store} GB on ${instance.instanceType})` : ""}${instance.rootDeviceType === "instance-store" ? ", the root device included" : ""}: no EBS snapshot can hold it, and its data is lost when the instance stops or terminates`,
    );
  for (const volume of instance.volumes)
    if (!evidence.snapshotVolumes.includes(volume.volumeId))
      missing.push(`${volume.volumeId} (${volume.deviceName}): no snapshot`);
  for (const key of evidence.keys.filter((item) => !item.usable))
    missing.push(
      `snapshots of ${key.volumes.join(", ")} are encrypted with KMS key ${key.keyId}, which is ${key.state}${key.deletionDate ? ` (deleted on ${key.deletionDate})` : ""}: they cannot be read until the key is enabled${key.state === "PendingDeletion" ? " (cancel its deletion first)" : ""}`,
    );
  return missing;
}

/** AWS refused a protection for a reason other than the instance's kind (permissions, say). */
export class PreserveRefusedError extends PhoenixError {
  override name = "PreserveRefusedError";
}
