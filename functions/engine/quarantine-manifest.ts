// The evidence manifest of one quarantined instance: what was contained and in what order, what could not be,
// what was preserved and what was not, and its SHA-256 over a canonical form anyone can recompute.
import { createHash } from "node:crypto";
import type { SuspectInstance } from "./quarantine";

/** A snapshot in the manifest. */
export interface ManifestSnapshot {
  snapshotId: string;
  volumeId: string;
  deviceName?: string;
  state: string;
  kmsKeyId?: string;
}

/** A KMS key protecting evidence, and whether it can be used to read the evidence later. */
export interface EvidenceKey {
  keyId: string;
  state: string;
  manager?: string;
  deletionDate?: string;
  usable: boolean;
  volumes: string[];
}

/** The evidence manifest of one quarantined instance. */
export interface EvidenceManifest {
  caseId: string;
  actor: string;
  reason: string;
  instance: SuspectInstance;
  group?: string;
  containment: {
    /** What was done, in the order it was done. */
    steps: string[];
    isolationGroupId?: string;
    untrackGroupId?: string;
    previousGroups: Record<string, string[]>;
    /** Public IPv4 addresses taken off the instance before any rule was opened (Elastic IPs and Amazon's). */
    publicAddressesRemoved: string[];
    detachedElasticIps: string[];
    previousInstanceProfile?: string;
    instanceProfileNow?: string;
    networkAcl?: { subnetId: string; isolationAclId?: string; previousAclId?: string; note: string };
    /** Read back from AWS when the quarantine ended: empty when the network containment holds. */
    stillOpen: string[];
    /** What AWS documents no security group change can end. */
    residual: string[];
  };
  credentials: {
    revoked: { roleName: string; policyName: string; issuedBefore: string }[];
    notRevoked: string[];
  };
  preservation: { applied: string[]; limitations: { action: string; reason: string }[] };
  evidence: {
    method: string;
    crashConsistent: boolean;
    note?: string;
    snapshots: ManifestSnapshot[];
    keys: EvidenceKey[];
  };
  /** What this quarantine did not, or could not, preserve. */
  notPreserved: string[];
  replacement: { instanceIds: string[]; validated: boolean; reasons: string[] };
  timeline: { at: string; step: string; detail: string }[];
}

/** JSON with object keys sorted at every level: the same manifest always serializes the same way. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 (hex) of the manifest's canonical JSON: anyone holding the manifest can check it. */
export function manifestDigest(manifest: EvidenceManifest): string {
  return createHash("sha256").update(canonicalJson(manifest)).digest("hex");
}
