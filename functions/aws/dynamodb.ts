import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
} from "@aws-sdk/client-dynamodb";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

/** The DynamoDB client (injected in the simulator and tests). */
export const dynamodb = () => clientFor("dynamodb", () => new DynamoDBClient(sdkClientDefaults));

/**
 * A DynamoDB client that always forwards to the current one, for libraries that keep the client they were
 * built with (Powertools idempotency) while the simulator and tests inject theirs later.
 */
export const currentDynamoDbClient = new Proxy({} as DynamoDBClient, {
  get: (_, property) => {
    const client = dynamodb();
    const value = Reflect.get(client, property, client);
    return typeof value === "function" ? value.bind(client) : value;
  },
  has: (_, property) => Reflect.has(dynamodb(), property),
});

/** Sends a conditional write: true when it was applied, false when its condition did not hold. */
export async function conditionalWrite(operation: string, write: () => Promise<unknown>): Promise<boolean> {
  return callAws(operation, async () => {
    try {
      await write();
      return true;
    } catch (error) {
      if (
        error instanceof ConditionalCheckFailedException ||
        (error as { name?: string }).name === "ConditionalCheckFailedException"
      ) {
        return false;
      }
      throw error;
    }
  });
}

/** Reads one item of Phoenix's table by its id, consistently (locks and heads must not be read stale). */
export async function getItem(
  tableName: string,
  id: string,
): Promise<Record<string, AttributeValue> | undefined> {
  const response = await callAws("GetItem", () =>
    dynamodb().send(
      new GetItemCommand({ TableName: tableName, Key: { id: { S: id } }, ConsistentRead: true }),
    ),
  );
  return response.Item;
}
