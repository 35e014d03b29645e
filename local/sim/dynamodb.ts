// DynamoDB for the simulator and the tests: dynalite, a third-party implementation of the DynamoDB API, in
// this process on a loopback port. Conditional writes fail with ConditionalCheckFailedException exactly as
// in AWS, so the lock and idempotency code runs unchanged. Calls still take simulated time and are counted.
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  DynamoDBServiceException,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { currentCaller } from "./callers";
import type { SimCall } from "./clients";
import type { SimWorld } from "./world";

const MUTATING = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);

/** An embedded DynamoDB endpoint with Phoenix's table, and a client wired to the simulated clock. */
export interface EmbeddedDynamoDb {
  client: DynamoDBClient;
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite on 127.0.0.1 (a free port), creates the table and returns a client for it. With a world,
 * calls take simulated time, are counted and can be throttled; without one (pull mode's local lock table)
 * they are plain calls.
 */
export async function startEmbeddedDynamoDb(
  world: SimWorld | undefined,
  tableName: string,
  journal: SimCall[],
  /** A directory to keep the table in across runs (pull mode); in memory without one. */
  path?: string,
): Promise<EmbeddedDynamoDb> {
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    region: world?.region ?? "us-east-1",
    endpoint,
    credentials: { accessKeyId: "SIMULATED", secretAccessKey: "SIMULATED" },
    maxAttempts: 1,
  });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  } catch (error) {
    // A table kept in a directory exists from an earlier run.
    if ((error as Error).name !== "ResourceInUseException") throw error;
  }
  // dynalite activates a new table a moment later; closing before that would write to a closed store.
  for (let attempt = 0; attempt < 100; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === "ACTIVE") break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (world) addSimulatedCalls(client, world, journal);
  return {
    client,
    endpoint,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const writeListeners = new WeakMap<SimWorld, ((call: SimCall) => Promise<void> | void)[]>();

/**
 * Calls `listener` after every write to the simulated account's table succeeded, before the caller sees
 * the answer (monitors read the table there, with their own client).
 */
export function onTableWrite(world: SimWorld, listener: (call: SimCall) => Promise<void> | void): void {
  writeListeners.set(world, [...(writeListeners.get(world) ?? []), listener]);
}

/** Makes each call take simulated time, count, be journaled and possibly throttled. */
function addSimulatedCalls(client: DynamoDBClient, world: SimWorld, journal: SimCall[]): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName).replace(/Command$/, "");
      world.apiLatency();
      world.countCall(`dynamodb:${operation}`);
      const call: SimCall = {
        at: world.clock.now(),
        operation: `dynamodb:${operation}`,
        mutating: MUTATING.has(operation),
        input: args.input,
        caller: currentCaller(),
      };
      journal.push(call);
      if (world.faults.throttleShare > 0 && world.random.chance(world.faults.throttleShare)) {
        call.error = "ThrottlingException";
        world.countCall(`dynamodb:${operation}`, world.throttled);
        throw new DynamoDBServiceException({
          name: "ThrottlingException",
          $fault: "client",
          $metadata: { httpStatusCode: 400 },
          message: "Rate of requests exceeds the allowed throughput.",
        });
      }
      try {
        const output = await next(args);
        if (call.mutating) for (const listener of writeListeners.get(world) ?? []) await listener(call);
        return output;
      } catch (error) {
        call.error = (error as Error).name;
        throw error;
      }
    },
    { step: "initialize", name: "phoenixSimulatedCall" },
  );
}
