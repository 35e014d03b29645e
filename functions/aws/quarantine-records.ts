// The durable record of each quarantine, in the stack's DynamoDB table: what the instance looked like before
// isolation (so release can restore it), its evidence, and its manifest. Written before anything is changed.
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { AlreadyQuarantinedError, type SuspectInstance } from "../engine/quarantine";
import type { EvidenceManifest } from "../engine/quarantine-manifest";
import { conditionalWrite, dynamodb, getItem } from "./dynamodb";

/** One instance's quarantine, as stored. */
export interface QuarantineRecord {
  instanceId: string;
  caseId: string;
  status: "quarantined" | "released" | "disposed";
  reason: string;
  actor: string;
  quarantinedAt: string;
  /** The instance as it was before isolation. */
  before: SuspectInstance;
  snapshots: { snapshotId: string; volumeId: string }[];
  /** What containment changed beyond the security groups, for release to put back. */
  containment?: {
    /** The subnet moved to Phoenix's deny-all network ACL, and the one it had. */
    networkAcl?: { subnetId: string; previousAclId: string; isolationAclId: string };
  };
  /** The deny put on the instance's role, for release to delete. */
  revocation?: { roleName: string; policyName: string; issuedBefore: string };
  manifest?: EvidenceManifest;
  digest?: string;
  updatedAt: string;
}

const recordId = (instanceId: string) => `quarantine#${instanceId}`;
const key = (instanceId: string) => ({ id: { S: recordId(instanceId) } });

/** Reads an instance's quarantine record, if it has one. */
export async function readQuarantineRecord(
  tableName: string,
  instanceId: string,
): Promise<QuarantineRecord | undefined> {
  const text = (await getItem(tableName, recordId(instanceId)))?.record?.S;
  return text ? (JSON.parse(text) as QuarantineRecord) : undefined;
}

/**
 * Writes a quarantine record. A new quarantine may not overwrite one that is still active for another case
 * (the first record holds the pre-isolation state release needs); the same case may rewrite its own.
 */
export async function writeQuarantineRecord(tableName: string, record: QuarantineRecord): Promise<void> {
  const written = await conditionalWrite("PutItem", () =>
    dynamodb().send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          ...key(record.instanceId),
          record: { S: JSON.stringify(record) },
          caseId: { S: record.caseId },
          status: { S: record.status },
        },
        ConditionExpression: "attribute_not_exists(id) OR #status <> :active OR caseId = :case",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":active": { S: "quarantined" }, ":case": { S: record.caseId } },
      }),
    ),
  );
  if (!written) {
    throw new AlreadyQuarantinedError(`${record.instanceId} is already quarantined under another case`, {
      instanceId: record.instanceId,
    });
  }
}
