// Dry runs against the deployed stack: the CLI invokes the planning function on its own and starts no
// execution, so a dry run makes no mutating call there either (the other backends are asserted in
// test/local/here.test.ts and test/local/replace-group.e2e.test.ts).
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { deployedBackend } from "../../cli/backends";
import { useClients } from "../../functions/aws/clients";
import { runCaptured } from "../run-phoenix";

const plan = {
  groupName: "web-prod",
  instancesToReplace: 12,
  waves: [{ index: 0 }, { index: 1 }, { index: 2 }],
  estimate: { totalSeconds: 420 },
};

afterEach(() => useClients({}));

async function phoenix(args: string[]) {
  const lambda = mockClient(new LambdaClient({}));
  const sfn = mockClient(new SFNClient({}));
  lambda.on(InvokeCommand).callsFake(async (input: { FunctionName: string; Payload: Uint8Array }) => {
    const event = JSON.parse(new TextDecoder().decode(input.Payload));
    const output = { executionId: event.executionId, request: event.request, plan };
    return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(output)) };
  });
  useClients({ lambda: lambda as never, sfn: sfn as never });
  const { code, stdout } = await runCaptured(args, async (target) => deployedBackend(target.stage));
  // What the mocks were sent, as "service:Operation".
  const calls = [
    ...lambda
      .calls()
      .map((call) => `lambda:${(call.args[0] as object).constructor.name.replace(/Command$/, "")}`),
    ...sfn.calls().map((call) => `sfn:${(call.args[0] as object).constructor.name.replace(/Command$/, "")}`),
  ];
  const invoked = lambda.commandCalls(InvokeCommand).map((call) => ({
    functionName: call.args[0].input.FunctionName,
    event: JSON.parse(new TextDecoder().decode(call.args[0].input.Payload as Uint8Array)),
  }));
  return { code, stdout, calls, invoked };
}

describe("dry runs against the deployed stack", () => {
  it("replace --dry-run invokes the planning function and starts no execution", async () => {
    const { code, stdout, calls, invoked } = await phoenix([
      "replace",
      "web-prod",
      "--target-version",
      "2",
      "--dry-run",
      "--stage",
      "prod",
    ]);
    expect(code).toBe(0);
    expect(calls).toEqual(["lambda:Invoke"]);
    expect(invoked[0]).toMatchObject({
      functionName: "phoenix-prod-planReplacement",
      event: { request: { groupName: "web-prod", targetVersion: "2", dryRun: true } },
    });
    expect(stdout).toContain("plan: 12 instances in 3 waves");
  });

  it("quarantine --dry-run invokes the validation function and starts no execution", async () => {
    const { code, calls, invoked } = await phoenix([
      "quarantine",
      "i-0123456789abcdef0",
      "--reason",
      "beaconing",
      "--dry-run",
    ]);
    expect(code).toBe(0);
    expect(calls).toEqual(["lambda:Invoke"]);
    expect(invoked[0]).toMatchObject({
      functionName: "phoenix-dev-validateQuarantine",
      event: { request: { instanceIds: ["i-0123456789abcdef0"], dryRun: true } },
    });
  });
});

describe("a quarantine against the deployed stack", () => {
  it("is requested on Phoenix's bus as an incident responder, then followed by its case's execution", async () => {
    const events = mockClient(new EventBridgeClient({}));
    const sfn = mockClient(new SFNClient({}));
    const machine = "arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-quarantine-instance-prod";
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] });
    sfn.on(ListStateMachinesCommand).resolves({
      stateMachines: [
        {
          name: "phoenix-quarantine-instance-prod",
          stateMachineArn: machine,
          type: "STANDARD",
          creationDate: new Date(),
        },
      ],
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: `${machine.replace(":stateMachine:", ":execution:")}:quarantine-IR-7`,
      stateMachineArn: machine,
      status: "SUCCEEDED",
      startDate: new Date(),
      output: JSON.stringify({ caseId: "IR-7", manifests: [] }),
    });
    useClients({ eventBridge: events as never, sfn: sfn as never });
    const { code, stdout } = await runCaptured(
      [
        "quarantine",
        "i-0123456789abcdef0",
        "--reason",
        "beaconing",
        "--case",
        "IR-7",
        "--all",
        "--stage",
        "prod",
      ],
      async (target) => deployedBackend(target.stage),
    );
    expect(code).toBe(0);
    const entry = events.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({
      EventBusName: "phoenix-prod",
      Source: "phoenix.responder",
      DetailType: "Quarantine Requested",
    });
    expect(JSON.parse(entry?.Detail ?? "{}")).toMatchObject({
      instanceIds: ["i-0123456789abcdef0"],
      caseId: "IR-7",
      all: true,
    });
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]?.args[0].input.executionArn).toMatch(
      /:execution:phoenix-quarantine-instance-prod:quarantine-IR-7$/,
    );
    expect(stdout).toContain("requested on phoenix-prod as case IR-7");
    // The CLI starts no execution itself: the trigger does, within its budgets.
    expect(sfn.commandCalls(StartExecutionCommand)).toEqual([]);
  });
});
