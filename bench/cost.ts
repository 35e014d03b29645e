// Control-plane cost of one Phoenix rotation: API calls, Step Functions transitions, Lambda use, and their
// price at public rates.
import type { PhoenixRotation } from "./makespan";

// Public prices, us-east-1, November 2026.
export const PRICES = {
  stepFunctionsPerTransition: 0.025 / 1000,
  lambdaPerGbSecondArm: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  dynamoDbPerWrite: 0.625 / 1_000_000,
  dynamoDbPerRead: 0.125 / 1_000_000,
  eventBridgePerEvent: 1 / 1_000_000,
};
const LAMBDA_MEMORY_GB = 256 / 1024;
const DYNAMODB_WRITES = new Set([
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "TransactWriteItems",
  "BatchWriteItem",
]);

/** API calls, Step Functions transitions, Lambda use and their price, for one rotation of `instances`. */
export function costOf(rotation: PhoenixRotation, instances: number) {
  const byOperation = Object.fromEntries(
    [...rotation.apiCalls.entries()].sort(([a], [b]) => a.localeCompare(b)),
  );
  const calls = Object.values(byOperation).reduce((sum, count) => sum + count, 0);
  const gbSeconds = (rotation.outcome.lambdaMilliseconds / 1000) * LAMBDA_MEMORY_GB;
  let dynamoWrites = 0;
  let dynamoReads = 0;
  let events = 0;
  for (const [operation, count] of rotation.apiCalls) {
    const [service, name] = operation.split(":");
    if (service === "dynamodb") {
      if (DYNAMODB_WRITES.has(name ?? "")) dynamoWrites += count;
      else dynamoReads += count;
    }
    if (operation === "events:PutEvents") events += count;
  }
  const dollars =
    rotation.outcome.stateTransitions * PRICES.stepFunctionsPerTransition +
    gbSeconds * PRICES.lambdaPerGbSecondArm +
    rotation.outcome.lambdaInvocations * PRICES.lambdaPerRequest +
    dynamoWrites * PRICES.dynamoDbPerWrite +
    dynamoReads * PRICES.dynamoDbPerRead +
    events * PRICES.eventBridgePerEvent;
  const describeInstances = rotation.apiCalls.get("ec2:DescribeInstances") ?? 0;
  return {
    apiCalls: calls,
    apiCallsPerInstance: calls / instances,
    byOperation,
    stateTransitions: rotation.outcome.stateTransitions,
    lambdaInvocations: rotation.outcome.lambdaInvocations,
    lambdaGbSeconds: gbSeconds,
    dollarsPer1000Instances: (dollars / instances) * 1000,
    describeInstancesPerSecond: describeInstances / rotation.makespanSeconds,
  };
}

/** Prints an aligned table. */
export function table(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) =>
    cells.reduce((width, row) => Math.max(width, (row[column] ?? "").length), 0),
  );
  for (const [index, row] of cells.entries()) {
    console.log(row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join("  "));
    if (index === 0) console.log(widths.map((width) => "-".repeat(width)).join("  "));
  }
}
