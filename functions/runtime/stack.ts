// Where this function runs (partition, region, account) and the ARNs of the stack's state machines there.
// serverless.yml gives each function only the stage: an ARN built in the template (Fn::Join over
// AWS::AccountId) is something `osls invoke local` cannot resolve, and a Ref to a state machine would be a
// cycle (the state machines reference the functions). Lambda hands every invocation its own function ARN,
// which carries the partition, region and account.
import type { Context } from "aws-lambda";
import { PhoenixError } from "../engine/errors";
import { config } from "./config";

/** The state machines serverless.yml declares, by their file name (phoenix-<name>-<stage>). */
export type StackStateMachine = "replace-group" | "image-rollout" | "quarantine-instance";

let invokedFunctionArn: string | undefined;

/** Remembers the invoked function's ARN (the middy stack calls this before each invocation). */
export function rememberInvocation(context: Partial<Pick<Context, "invokedFunctionArn">> | undefined): void {
  invokedFunctionArn = context?.invokedFunctionArn;
}

/** The ARN of one of the stack's state machines, in the partition, region and account of this function. */
export function stateMachineArn(machine: StackStateMachine): string {
  const name = `phoenix-${machine}-${config().PHOENIX_STAGE}`;
  const [arn, partition, service, region, account] = (invokedFunctionArn ?? "").split(":");
  if (arn !== "arn" || service !== "lambda" || !partition || !region || !account)
    throw new PhoenixError(
      `Cannot tell the account of state machine ${name}: the Lambda context carries no function ARN ` +
        `(${invokedFunctionArn ?? "none"}). With osls invoke local, pass one: --contextPath events/lambda-context.json`,
    );
  return `arn:${partition}:states:${region}:${account}:stateMachine:${name}`;
}
