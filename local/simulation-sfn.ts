// The simulated Step Functions API (StartExecution, DescribeExecution, StopExecution, ListExecutions),
// answered by the simulation's executions.
import { randomUUID } from "node:crypto";
import type { Route } from "./sim/routes";
import { SimAwsError } from "./sim/world";
import type { SimExecution, Simulation } from "./simulation";

/** The simulated Step Functions API, answered by the simulation's executions. */
export function stepFunctionsRoutes(simulation: () => Simulation): Route[] {
  const describe = (execution: SimExecution) => ({
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: new Date(execution.startDate),
    stopDate: execution.stopDate === undefined ? undefined : new Date(execution.stopDate),
    input: execution.input,
    output: execution.output,
    error: execution.error,
    cause: execution.cause,
  });
  const find = (arn: string) => {
    const execution = simulation().executions.get(arn);
    if (!execution) throw new SimAwsError("ExecutionDoesNotExist", `Execution Does Not Exist: '${arn}'`);
    return execution;
  };
  const route = (operation: string, mutating: boolean, answer: Route["answer"]): Route => ({
    service: "sfn",
    operation,
    bucket: "sfn:api",
    throttleCode: "ThrottlingException",
    mutating,
    answer,
  });
  return [
    route("StartExecution", true, (_, input) => {
      const execution = simulation().startExecution(
        input.stateMachineArn,
        input.name ?? randomUUID(),
        input.input ?? "{}",
      );
      return { executionArn: execution.executionArn, startDate: new Date(execution.startDate) };
    }),
    route("DescribeExecution", false, (_, input) => describe(find(input.executionArn))),
    route("StopExecution", true, (_, input) => {
      const execution = find(input.executionArn);
      simulation().stopExecution(execution.executionArn);
      return { stopDate: new Date(simulation().world.clock.now()) };
    }),
    route("ListExecutions", false, (_, input) => ({
      executions: [...simulation().executions.values()]
        .filter((execution) => execution.stateMachineArn === input.stateMachineArn)
        .filter((execution) => !input.statusFilter || execution.status === input.statusFilter)
        .map(describe),
    })),
  ];
}
