// The rate-budget ledger: how many instances each group had replaced recently, in DynamoDB. Entries go into
// buckets as long as the budget window, so a rolling window reads two small items and old buckets expire.
import { BatchGetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { conditionalWrite, dynamodb } from "./dynamodb";
import { callAws } from "./errors";

const bucketKey = (groupName: string, windowSeconds: number, bucket: number) =>
  `budget#group#${groupName}#${windowSeconds}#${bucket}`;

/** Instances replaced in each group within its window ending now (one BatchGetItem per 50 groups). */
export async function readBudgetUsed(
  tableName: string,
  groups: { groupName: string; windowSeconds: number }[],
  now: Date,
): Promise<Map<string, number>> {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const used = new Map(groups.map((group) => [group.groupName, 0]));
  const keys = groups.flatMap(({ groupName, windowSeconds }) => {
    const bucket = Math.floor(nowSeconds / windowSeconds);
    return [bucket - 1, bucket].map((b) => ({
      groupName,
      windowSeconds,
      id: bucketKey(groupName, windowSeconds, b),
    }));
  });
  for (let start = 0; start < keys.length; start += 100) {
    const chunk = keys.slice(start, start + 100);
    let request: Record<string, { Keys: { id: { S: string } }[] }> | undefined = {
      [tableName]: { Keys: chunk.map((key) => ({ id: { S: key.id } })) },
    };
    while (request && Object.keys(request).length > 0) {
      const response = await callAws("BatchGetItem", () =>
        dynamodb().send(new BatchGetItemCommand({ RequestItems: request as never })),
      );
      for (const item of response.Responses?.[tableName] ?? []) {
        const key = chunk.find((candidate) => candidate.id === item.id?.S);
        if (!key) continue;
        const recent = (item.entries?.L ?? []).filter(
          (entry) => Number(entry.M?.at?.N ?? 0) > nowSeconds - key.windowSeconds,
        );
        const sum = recent.reduce((total, entry) => total + Number(entry.M?.count?.N ?? 0), 0);
        used.set(key.groupName, (used.get(key.groupName) ?? 0) + sum);
      }
      request = response.UnprocessedKeys as typeof request;
    }
  }
  return used;
}

/** Records that an execution replaces `count` instances of a group now; recording the same execution twice counts once. */
export async function recordReplacement(args: {
  tableName: string;
  groupName: string;
  windowSeconds: number;
  executionName: string;
  count: number;
  now: Date;
}): Promise<boolean> {
  const at = Math.floor(args.now.getTime() / 1000);
  const bucket = Math.floor(at / args.windowSeconds);
  return conditionalWrite("UpdateItem", () =>
    dynamodb().send(
      new UpdateItemCommand({
        TableName: args.tableName,
        Key: { id: { S: bucketKey(args.groupName, args.windowSeconds, bucket) } },
        UpdateExpression:
          "SET entries = list_append(if_not_exists(entries, :none), :entry), #ttl = :ttl ADD executionNames :names",
        ConditionExpression: "attribute_not_exists(executionNames) OR NOT contains(executionNames, :name)",
        ExpressionAttributeNames: { "#ttl": "ttl" },
        ExpressionAttributeValues: {
          ":none": { L: [] },
          ":entry": {
            L: [
              {
                M: {
                  at: { N: String(at) },
                  count: { N: String(args.count) },
                  execution: { S: args.executionName },
                },
              },
            ],
          },
          ":names": { SS: [args.executionName] },
          ":name": { S: args.executionName },
          ":ttl": { N: String((bucket + 2) * args.windowSeconds + 86_400) },
        },
      }),
    ),
  );
}
