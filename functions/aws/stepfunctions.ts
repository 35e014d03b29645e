import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { executionArnOf } from "../engine/names";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const sfn = () => clientFor("sfn", () => new SFNClient(sdkClientDefaults));

/**
 * Starts an execution under a deterministic name. Step Functions answers a repeat with the same name and
 * input with the same execution, and a repeat after it ended (or with other input) with
 * ExecutionAlreadyExists: either way the work is not started twice.
 */
export async function startNamedExecution(args: {
  stateMachineArn: string;
  name: string;
  input: unknown;
}): Promise<{ executionArn: string; started: boolean }> {
  return callAws("StartExecution", async () => {
    try {
      const response = await sfn().send(
        new StartExecutionCommand({
          stateMachineArn: args.stateMachineArn,
          name: args.name,
          input: JSON.stringify(args.input),
        }),
      );
      return { executionArn: response.executionArn ?? "", started: true };
    } catch (error) {
      if ((error as { name?: string }).name !== "ExecutionAlreadyExists") throw error;
      return { executionArn: executionArnOf(args.stateMachineArn, args.name), started: false };
    }
  });
}

/** Status, output and error of one execution. */
export async function describeExecution(executionArn: string) {
  const response = await callAws("DescribeExecution", () =>
    sfn().send(new DescribeExecutionCommand({ executionArn })),
  );
  return {
    executionArn,
    status: response.status ?? "UNKNOWN",
    name: response.name ?? "",
    input: response.input ? JSON.parse(response.input) : undefined,
    output: response.output ? JSON.parse(response.output) : undefined,
    error: response.error,
    cause: response.cause,
    startDate: response.startDate?.toISOString(),
    stopDate: response.stopDate?.toISOString(),
  };
}

/** Like describeExecution, but undefined for an execution that was never started. */
export async function describeExecutionIfAny(executionArn: string) {
  try {
    return await describeExecution(executionArn);
  } catch (error) {
    if ((error as { context?: { code?: string } }).context?.code === "ExecutionDoesNotExist")
      return undefined;
    throw error;
  }
}

/** ARNs and names of the running executions of a state machine (every page). */
export async function listRunningExecutions(
  stateMachineArn: string,
): Promise<{ executionArn: string; name: string }[]> {
  const running: { executionArn: string; name: string }[] = [];
  let nextToken: string | undefined;
  do {
    const response = await callAws("ListExecutions", () =>
      sfn().send(
        new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING", maxResults: 1000, nextToken }),
      ),
    );
    for (const execution of response.executions ?? []) {
      running.push({ executionArn: execution.executionArn ?? "", name: execution.name ?? "" });
    }
    nextToken = response.nextToken;
  } while (nextToken);
  return running;
}

/** The ARN of a state machine by its name (every page of ListStateMachines); undefined when there is none. */
export async function findStateMachineArn(name: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  do {
    const response = await callAws("ListStateMachines", () =>
      sfn().send(new ListStateMachinesCommand({ maxResults: 1000, nextToken })),
    );
    const found = response.stateMachines?.find((machine) => machine.name === name);
    if (found?.stateMachineArn) return found.stateMachineArn;
    nextToken = response.nextToken;
  } while (nextToken);
  return undefined;
}

/** History events of an execution after `afterId` (every page), for following it live. */
export async function executionHistorySince(executionArn: string, afterId: number): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const response = await callAws("GetExecutionHistory", () =>
      sfn().send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 1000,
          nextToken,
          includeExecutionData: true,
        }),
      ),
    );
    events.push(...(response.events ?? []).filter((event) => (event.id ?? 0) > afterId));
    nextToken = response.nextToken;
  } while (nextToken);
  return events;
}
