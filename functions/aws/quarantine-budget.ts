// The quarantine budget ledger: how many instances of each group requests quarantined within the last hour,
// in Phoenix's table. One item per group and clock hour holds a counter and one entry per case; a request
// reserves its count with a conditional write, so two requests at once cannot both pass the budget.
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { conditionalWrite, dynamodb, getItem } from "./dynamodb";

const HOUR_SECONDS = 3600;
const bucketKey = (groupName: string, bucket: number) => `quarantine-budget#${groupName}#${bucket}`;
const caseAttribute = (caseId: string) => `case#${caseId}`;

/** Instances of a group quarantined by requests within the hour before `now`, and whether `caseId` is among them. */
export async function quarantinedLastHour(
  tableName: string,
  groupName: string,
  caseId: string,
  now: Date,
): Promise<{ used: number; previousBucket: number; alreadyCounted: boolean }> {
  const at = Math.floor(now.getTime() / 1000);
  const bucket = Math.floor(at / HOUR_SECONDS);
  let used = 0;
  let previousBucket = 0;
  let alreadyCounted = false;
  for (const which of [bucket - 1, bucket]) {
    const item = await getItem(tableName, bucketKey(groupName, which));
    for (const [name, value] of Object.entries(item ?? {})) {
      if (!name.startsWith("case#")) continue;
      if (name === caseAttribute(caseId)) alreadyCounted = true;
      const entryAt = Number(value.M?.at?.N ?? 0);
      const count = Number(value.M?.count?.N ?? 0);
      if (entryAt <= at - HOUR_SECONDS) continue;
      used += count;
      if (which !== bucket) previousBucket += count;
    }
  }
  return { used, previousBucket, alreadyCounted };
}

/**
 * Counts `count` instances of a group for a case in the current hour's item, only if the item's counter stays
 * within `maxInCurrentBucket` and the case is not counted yet. False when either condition failed.
 */
export async function reserveQuarantine(args: {
  tableName: string;
  groupName: string;
  caseId: string;
  count: number;
  maxInCurrentBucket: number;
  now: Date;
}): Promise<boolean> {
  const at = Math.floor(args.now.getTime() / 1000);
  const bucket = Math.floor(at / HOUR_SECONDS);
  if (args.count > args.maxInCurrentBucket) return false;
  return conditionalWrite("UpdateItem", () =>
    dynamodb().send(
      new UpdateItemCommand({
        TableName: args.tableName,
        Key: { id: { S: bucketKey(args.groupName, bucket) } },
        UpdateExpression: "SET #case = :entry, #ttl = :ttl ADD used :count",
        ConditionExpression: "(attribute_not_exists(used) OR used <= :room) AND attribute_not_exists(#case)",
        ExpressionAttributeNames: { "#case": caseAttribute(args.caseId), "#ttl": "ttl" },
        ExpressionAttributeValues: {
          ":entry": { M: { at: { N: String(at) }, count: { N: String(args.count) } } },
          ":count": { N: String(args.count) },
          ":room": { N: String(args.maxInCurrentBucket - args.count) },
          ":ttl": { N: String((bucket + 2) * HOUR_SECONDS + 86_400) },
        },
      }),
    ),
  );
}

/** Gives back a reservation (another group of the same request was refused, so the request is refused whole). */
export async function releaseQuarantineReservation(args: {
  tableName: string;
  groupName: string;
  caseId: string;
  count: number;
  now: Date;
}): Promise<void> {
  const bucket = Math.floor(args.now.getTime() / 1000 / HOUR_SECONDS);
  await conditionalWrite("UpdateItem", () =>
    dynamodb().send(
      new UpdateItemCommand({
        TableName: args.tableName,
        Key: { id: { S: bucketKey(args.groupName, bucket) } },
        UpdateExpression: "REMOVE #case ADD used :minus",
        ConditionExpression: "attribute_exists(#case)",
        ExpressionAttributeNames: { "#case": caseAttribute(args.caseId) },
        ExpressionAttributeValues: { ":minus": { N: String(-args.count) } },
      }),
    ),
  );
}
