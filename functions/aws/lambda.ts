import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { AwsRequestRejectedError } from "../engine/errors";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const lambda = () => clientFor("lambda", () => new LambdaClient(sdkClientDefaults));

/** Invokes a deployed function synchronously and returns its parsed result; a function error is thrown. */
export async function invokeFunction(functionName: string, payload: unknown): Promise<unknown> {
  const response = await callAws("Invoke", () =>
    lambda().send(
      new InvokeCommand({
        FunctionName: functionName,
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    ),
  );
  const text = response.Payload ? new TextDecoder().decode(response.Payload) : "null";
  const result = JSON.parse(text);
  if (response.FunctionError) {
    throw new AwsRequestRejectedError(
      `${functionName} failed: ${result?.errorType ?? response.FunctionError}: ${result?.errorMessage ?? text}`,
      {
        functionName,
      },
    );
  }
  return result;
}
