import {
  BatchGetItemCommand,
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { ReplacementInProgressError } from "../engine/errors";
import { type GroupLock, groupLockKey } from "../engine/lock";
import { conditionalWrite, dynamodb, getItem } from "./dynamodb";
import { callAws } from "./errors";

/** Groups among `groupNames` whose lock is held by an unexpired lease (one BatchGetItem per 100 groups). */
export async function readLockedGroups(
  tableName: string,
  groupNames: string[],
  now: Date,
): Promise<Set<string>> {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const locked = new Set<string>();
  for (let start = 0; start < groupNames.length; start += 100) {
    let keys: { id: { S: string } }[] = groupNames
      .slice(start, start + 100)
      .map((name) => ({ id: { S: groupLockKey(name) } }));
    while (keys.length > 0) {
      const response = await callAws("BatchGetItem", () =>
        dynamodb().send(
          new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
        ),
      );
      for (const item of response.Responses?.[tableName] ?? []) {
        if (Number(item.expiresAt?.N ?? 0) >= nowSeconds)
          locked.add((item.id?.S ?? "").replace(groupLockKey(""), ""));
      }
      keys = (response.UnprocessedKeys?.[tableName]?.Keys ?? []) as typeof keys;
    }
  }
  return locked;
}

/** Reads who holds a group's lock, if anyone. */
export async function readGroupLock(tableName: string, groupName: string): Promise<GroupLock | undefined> {
  const item = await getItem(tableName, groupLockKey(groupName));
  if (!item) return undefined;
  return {
    groupName,
    owner: item.owner?.S ?? "",
    acquiredAt: item.acquiredAt?.S ?? "",
    expiresAt: Number(item.expiresAt?.N ?? 0),
    previous: item.previous?.S ? (JSON.parse(item.previous.S) as GroupLock["previous"]) : undefined,
  };
}

/**
 * Takes a group's lock with a conditional write: it succeeds only if nobody holds it, the holder's lease
 * expired, or this execution already holds it (a retried step). Otherwise ReplacementInProgressError.
 */
export async function acquireGroupLock(args: {
  tableName: string;
  groupName: string;
  owner: string;
  now: Date;
  leaseSeconds: number;
  previous?: GroupLock["previous"];
}): Promise<GroupLock> {
  const nowSeconds = Math.floor(args.now.getTime() / 1000);
  const lock: GroupLock = {
    groupName: args.groupName,
    owner: args.owner,
    acquiredAt: args.now.toISOString(),
    expiresAt: nowSeconds + args.leaseSeconds,
    previous: args.previous,
  };
  const taken = await conditionalWrite("PutItem", () =>
    dynamodb().send(
      new PutItemCommand({
        TableName: args.tableName,
        Item: {
          id: { S: groupLockKey(args.groupName) },
          owner: { S: lock.owner },
          acquiredAt: { S: lock.acquiredAt },
          expiresAt: { N: String(lock.expiresAt) },
          ...(lock.previous ? { previous: { S: JSON.stringify(lock.previous) } } : {}),
          // DynamoDB TTL removes long-expired items; correctness never depends on it.
          ttl: { N: String(lock.expiresAt + 86_400) },
        },
        ConditionExpression: "attribute_not_exists(id) OR expiresAt < :now OR #owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":now": { N: String(nowSeconds) }, ":owner": { S: args.owner } },
      }),
    ),
  );
  if (!taken) {
    const holder = await readGroupLock(args.tableName, args.groupName);
    throw new ReplacementInProgressError(
      `"${args.groupName}" is already being replaced by ${holder?.owner ?? "another execution"}` +
        (holder ? ` (lease until ${new Date(holder.expiresAt * 1000).toISOString()})` : ""),
      { groupName: args.groupName, holder },
    );
  }
  return lock;
}

/** Extends this execution's lease; fails with ReplacementInProgressError if it lost the lock. */
export async function renewGroupLock(args: {
  tableName: string;
  groupName: string;
  owner: string;
  now: Date;
  leaseSeconds: number;
}): Promise<number> {
  const expiresAt = Math.floor(args.now.getTime() / 1000) + args.leaseSeconds;
  const renewed = await conditionalWrite("UpdateItem", () =>
    dynamodb().send(
      new UpdateItemCommand({
        TableName: args.tableName,
        Key: { id: { S: groupLockKey(args.groupName) } },
        UpdateExpression: "SET expiresAt = :expiresAt, #ttl = :ttl",
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner", "#ttl": "ttl" },
        ExpressionAttributeValues: {
          ":owner": { S: args.owner },
          ":expiresAt": { N: String(expiresAt) },
          ":ttl": { N: String(expiresAt + 86_400) },
        },
      }),
    ),
  );
  if (!renewed) {
    throw new ReplacementInProgressError(`"${args.groupName}": this execution no longer holds the lock`, {
      groupName: args.groupName,
      owner: args.owner,
    });
  }
  return expiresAt;
}

/** Releases the lock if this execution holds it; true when it did. Someone else's lock is left alone. */
export async function releaseGroupLock(args: {
  tableName: string;
  groupName: string;
  owner: string;
}): Promise<boolean> {
  return conditionalWrite("DeleteItem", () =>
    dynamodb().send(
      new DeleteItemCommand({
        TableName: args.tableName,
        Key: { id: { S: groupLockKey(args.groupName) } },
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": { S: args.owner } },
      }),
    ),
  );
}
