import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const ssm = () => clientFor("ssm", () => new SSMClient(sdkClientDefaults));

/** The current value and version of a Parameter Store parameter. */
export async function getParameter(name: string): Promise<{ value: string; version: number }> {
  const response = await callAws("GetParameter", () => ssm().send(new GetParameterCommand({ Name: name })));
  return { value: response.Parameter?.Value ?? "", version: response.Parameter?.Version ?? 0 };
}
