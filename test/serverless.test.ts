import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IAM_FILE, iamFileText, type PolicyStatement, policyProblems } from "../deploy/permissions";
import { actionsByFunction } from "../local/permissions";
import { startEmbeddedDynamoDb } from "../local/sim/dynamodb";
import { REPO_ROOT } from "../local/state-machine";
import { autoScalingXml, startFakeAws } from "./fake-aws";

// Packages the deployable exactly as `npx osls package` does, with no credentials and no network.
const outDir = mkdtempSync(join(tmpdir(), "phoenix-package-"));
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation template as JSON
let template: any;

beforeAll(async () => {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: "",
    AWS_SECRET_ACCESS_KEY: "",
    AWS_PROFILE: "",
    SLS_TELEMETRY_DISABLED: "1",
  };
  await promisify(execFile)(
    join(REPO_ROOT, "node_modules", ".bin", "osls"),
    ["package", "--package", outDir],
    {
      cwd: REPO_ROOT,
      env,
    },
  );
  template = JSON.parse(readFileSync(join(outDir, "cloudformation-template-update-stack.json"), "utf8"));
  // osls package bundles every function: minutes on a loaded two-core machine.
}, 360_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("npx osls package", () => {
  it("writes a template with the replace-group state machine", () => {
    expect(template.Resources.ReplaceGroupStateMachine.Type).toBe("AWS::StepFunctions::StateMachine");
    expect(template.Outputs.ReplaceGroupStateMachineArn).toBeDefined();
  });

  it("declares every function the state machine references, on nodejs22.x arm64", () => {
    const definition = JSON.parse(
      readFileSync(join(REPO_ROOT, "statemachines", "replace-group.asl.json"), "utf8"),
    );
    const referenced = new Set<string>(
      JSON.stringify(definition)
        .match(/"Fn::GetAtt":\["(\w+)"/g)
        ?.map((m) => m.split('"')[3] as string),
    );
    expect(referenced.size).toBeGreaterThan(5);
    const definitionText = JSON.stringify(
      template.Resources.ReplaceGroupStateMachine.Properties.DefinitionString,
    );
    for (const key of referenced) {
      const logicalId = `${key[0]?.toUpperCase()}${key.slice(1)}LambdaFunction`;
      const fn = template.Resources[logicalId];
      expect(fn?.Type, logicalId).toBe("AWS::Lambda::Function");
      expect(fn.Properties).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"] });
      expect(definitionText).toContain(logicalId);
    }
  });

  it("alarms on failed and timed-out executions", () => {
    const alarms = Object.values(template.Resources).filter(
      (resource: unknown) => (resource as { Type: string }).Type === "AWS::CloudWatch::Alarm",
    );
    const metrics = alarms.map(
      (alarm) => (alarm as { Properties: { MetricName: string } }).Properties.MetricName,
    );
    expect(metrics).toEqual(expect.arrayContaining(["ExecutionsFailed", "ExecutionsTimedOut"]));
  });

  it("alarms when a sweep finds instances a replacement left out of service and running", () => {
    expect(template.Resources.LeftoverInstancesAlarm.Properties).toMatchObject({
      Namespace: "Phoenix",
      MetricName: "LeftoverInstances",
      Dimensions: [{ Name: "service", Value: "phoenix" }],
      ComparisonOperator: "GreaterThanThreshold",
      Threshold: 0,
      AlarmActions: [{ Ref: "PhoenixAlarmTopic" }],
    });
  });
});

describe("what an operator hears about (the packaged template)", () => {
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation resources as JSON
  const resourcesOfType = (type: string): [string, any][] =>
    Object.entries(template.Resources).filter(([, resource]) => (resource as { Type: string }).Type === type);
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation resources as JSON
  const notifiesTheTopic = (alarm: any) =>
    expect(alarm.Properties.AlarmActions).toContainEqual({ Ref: "PhoenixAlarmTopic" });

  it("every function has an alarm on its errors and one on its throttles, notifying the alarm topic", () => {
    const functions = resourcesOfType("AWS::Lambda::Function").map(([id]) => id);
    expect(functions.length).toBeGreaterThan(25);
    const alarms = resourcesOfType("AWS::CloudWatch::Alarm").map(([, alarm]) => alarm);
    for (const functionId of functions) {
      for (const metric of ["Errors", "Throttles"]) {
        const found = alarms.filter(
          (alarm) =>
            alarm.Properties.Namespace === "AWS/Lambda" &&
            alarm.Properties.MetricName === metric &&
            JSON.stringify(alarm.Properties.Dimensions) ===
              JSON.stringify([{ Name: "FunctionName", Value: { Ref: functionId } }]),
        );
        expect(found, `${functionId} ${metric}`).toHaveLength(1);
        notifiesTheTopic(found[0]);
      }
    }
    // A trigger has no state machine to retry it: its first error alarms.
    const sweepErrors = alarms.find(
      (alarm) =>
        alarm.Properties.MetricName === "Errors" &&
        alarm.Properties.Dimensions[0].Value.Ref === "SweepFleetLambdaFunction",
    );
    expect(sweepErrors.Properties).toMatchObject({
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  it("every EventBridge target has the dead-letter queue, which only this stack's rules may fill, and its depth alarms", () => {
    const rules = resourcesOfType("AWS::Events::Rule");
    // The three image sources, the janitor, quarantine requests and GuardDuty findings, the sweep's schedule.
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const [id, rule] of rules)
      for (const target of rule.Properties.Targets) {
        expect(target.DeadLetterConfig, id).toEqual({
          Arn: { "Fn::GetAtt": ["PhoenixDeadLetterQueue", "Arn"] },
        });
        expect(target.RetryPolicy.MaximumRetryAttempts, id).toBeGreaterThan(0);
      }
    expect(template.Resources.PhoenixDeadLetterQueue.Type).toBe("AWS::SQS::Queue");
    const policies = resourcesOfType("AWS::SQS::QueuePolicy");
    expect(policies).toHaveLength(1);
    const [statement] = policies[0]?.[1].Properties.PolicyDocument.Statement ?? [];
    expect(statement).toMatchObject({
      Effect: "Allow",
      Principal: { Service: "events.amazonaws.com" },
      Action: "sqs:SendMessage",
    });
    expect(statement.Condition.ArnEquals["aws:SourceArn"]).toEqual(
      rules.map(([id]) => ({ "Fn::GetAtt": [id, "Arn"] })),
    );
    const depth = resourcesOfType("AWS::CloudWatch::Alarm").find(
      ([, alarm]) =>
        alarm.Properties.Namespace === "AWS/SQS" &&
        alarm.Properties.MetricName === "ApproximateNumberOfMessagesVisible",
    )?.[1];
    expect(depth.Properties).toMatchObject({
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": ["PhoenixDeadLetterQueue", "QueueName"] } }],
      Threshold: 1,
    });
    notifiesTheTopic(depth);
  });

  it("the outputs name the alarm topic and the dead-letter queue", () => {
    expect(template.Outputs.AlarmTopicArn.Value).toEqual({ Ref: "PhoenixAlarmTopic" });
    expect(template.Outputs.DeadLetterQueueUrl.Value).toEqual({ Ref: "PhoenixDeadLetterQueue" });
  });

  it("every function's environment is plain values, so that osls invoke local can set it", () => {
    for (const [id, fn] of resourcesOfType("AWS::Lambda::Function"))
      for (const [name, value] of Object.entries(fn.Properties.Environment.Variables))
        expect(typeof value, `${id} ${name}`).toBe("string");
  });
});

describe("least privilege", () => {
  it("deploy/iam.yml is what the code and the rules give today (npm run permissions -- --write)", async () => {
    expect(readFileSync(IAM_FILE, "utf8")).toBe(await iamFileText());
  });

  it("every function has its own role allowing exactly what its code calls; mutations only on managed resources", async () => {
    const called = await actionsByFunction();
    expect(called.size).toBeGreaterThan(25);
    const problems: string[] = [];
    for (const [key, actions] of called) {
      const logicalId = `${key[0]?.toUpperCase()}${key.slice(1)}`;
      const fn = template.Resources[`${logicalId}LambdaFunction`];
      expect(fn.Properties.Role, key).toEqual({
        "Fn::GetAtt": [`${logicalId}IamRoleLambdaExecution`, "Arn"],
      });
      const role = template.Resources[`${logicalId}IamRoleLambdaExecution`];
      const statements = role.Properties.Policies.flatMap(
        (policy: { PolicyDocument: { Statement: PolicyStatement[] } }) => policy.PolicyDocument.Statement,
      );
      problems.push(...policyProblems(statements, actions).map((problem) => `${key}: ${problem}`));
    }
    expect(problems).toEqual([]);
  });

  it("no function can change an Auto Scaling group without the phoenix:managed condition", () => {
    const statements = Object.entries(template.Resources)
      .filter(([id]) => id.endsWith("IamRoleLambdaExecution") && id !== "IamRoleLambdaExecution")
      .flatMap(([, role]) =>
        (
          role as { Properties: { Policies: { PolicyDocument: { Statement: PolicyStatement[] } }[] } }
        ).Properties.Policies.flatMap((policy) => policy.PolicyDocument.Statement),
      );
    const groupChanges = statements.filter((statement) =>
      [statement.Action].flat().some((action) => action === "autoscaling:SetDesiredCapacity"),
    );
    expect(groupChanges.length).toBeGreaterThan(0);
    for (const statement of groupChanges)
      expect(statement.Condition).toEqual({
        StringEquals: { "autoscaling:ResourceTag/phoenix:managed": "true" },
      });
  });

  it("the check finds what it should", () => {
    const wide: PolicyStatement = {
      Effect: "Allow",
      Action: ["ec2:TerminateInstances", "ec2:DescribeInstances"],
      Resource: "*",
    };
    expect(policyProblems([wide], ["ec2:DescribeInstances", "ec2:CreateSnapshot"])).toEqual([
      "calls ec2:CreateSnapshot but may not",
      "may call ec2:TerminateInstances but never does",
      "ec2:TerminateInstances on * without a phoenix:managed tag condition (no Sid)",
    ]);
    expect(policyProblems([{ Effect: "Allow", Action: "ec2:*", Resource: "*" }], [])).toContain(
      "wildcard action ec2:*",
    );
  });
});

/**
 * Runs `npx osls invoke local -f <function> --path <event> [more]` as a Serverless user does (it bundles the
 * function with serverless-esbuild first), with AWS's endpoints on 127.0.0.1 and made-up keys: nothing
 * leaves this machine. Resolves with the handler's result (what osls prints last) and the exit code.
 */
async function invokeLocal(
  endpoints: { aws: string; dynamodb?: string },
  functionKey: string,
  ...args: string[]
): Promise<{ code: number; result: unknown; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_"))),
    SLS_TELEMETRY_DISABLED: "1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ACCESS_KEY_ID: "AKIDINVOKELOCAL",
    AWS_SECRET_ACCESS_KEY: "not-a-real-key",
    AWS_ENDPOINT_URL: endpoints.aws,
    ...(endpoints.dynamodb ? { AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb } : {}),
  };
  let code = 0;
  let stdout = "";
  let stderr = "";
  try {
    ({ stdout, stderr } = await promisify(execFile)(
      join(REPO_ROOT, "node_modules", ".bin", "osls"),
      ["invoke", "local", "-f", functionKey, ...args],
      { cwd: REPO_ROOT, env },
    ));
  } catch (error) {
    ({ code, stdout, stderr } = error as { code: number; stdout: string; stderr: string });
  }
  // osls prints the result last, indented; the handlers' log lines before it (if any reach stdout: warnings
  // go to stderr) are one JSON object a line.
  const start = [...stdout.matchAll(/(?:^|\n)(?=\{\n)/g)].at(-1);
  const result = start ? JSON.parse(stdout.slice((start.index ?? 0) + start[0].length)) : undefined;
  return { code, result, stdout, stderr };
}

describe("npx osls invoke local, one function of each kind, offline", () => {
  it("a state machine step (groupLock): takes the group's lock in DynamoDB, then gives it back", async () => {
    const aws = await startFakeAws({});
    const dynamodb = await startEmbeddedDynamoDb(undefined, "phoenix-dev", []);
    try {
      const endpoints = { aws: aws.url, dynamodb: dynamodb.endpoint };
      const acquired = await invokeLocal(
        endpoints,
        "groupLock",
        "--path",
        "events/replace-group/groupLock.AcquireLock.json",
      );
      expect(acquired.code, acquired.stdout + acquired.stderr).toBe(0);
      expect(acquired.result).toMatchObject({ held: true });
      const released = await invokeLocal(
        endpoints,
        "groupLock",
        "--path",
        "events/replace-group/groupLock.ReleaseLock.json",
      );
      // Released only if the lock was there, held by this execution: the first call really wrote it.
      expect(released.result).toEqual({ held: false, released: true });
      expect(aws.requests).toEqual([]);
    } finally {
      await dynamodb.close();
      await aws.close();
    }
  }, 300_000);

  it("an EventBridge trigger (onQuarantineRequested): starts the stage's quarantine state machine", async () => {
    const aws = await startFakeAws({
      "states:StartExecution": {
        json: {
          executionArn:
            "arn:aws:states:us-east-1:123456789012:execution:phoenix-quarantine-instance-dev:quarantine-IR-2026-0117",
          startDate: 1_795_000_000,
        },
      },
    });
    try {
      const { code, result, stdout } = await invokeLocal(
        { aws: aws.url },
        "onQuarantineRequested",
        "--path",
        "events/triggers/onQuarantineRequested.quarantine-requested.json",
        "--contextPath",
        "events/lambda-context.json",
      );
      expect(code, stdout).toBe(0);
      expect(result).toMatchObject({ status: "started", caseId: "IR-2026-0117" });
      expect(aws.requests.map((request) => request.operation)).toEqual(["states:StartExecution"]);
      const started = JSON.parse(aws.requests[0]?.body ?? "{}");
      // The ARN is built from the stage and the account and region of the function's ARN in the context.
      expect(started.stateMachineArn).toBe(
        "arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-quarantine-instance-dev",
      );
      expect(JSON.parse(started.input)).toMatchObject({
        instanceIds: ["i-4301cdb6537c36286"],
        caseId: "IR-2026-0117",
      });
      expect(aws.requests[0]).toMatchObject({ region: "us-east-1", accessKeyId: "AKIDINVOKELOCAL" });
    } finally {
      await aws.close();
    }
  }, 300_000);

  it("a throttled call is tried once: the deployed environment leaves retries to the state machine", async () => {
    const aws = await startFakeAws({
      "states:StartExecution": {
        status: 400,
        json: { __type: "ThrottlingException", message: "Rate exceeded" },
      },
    });
    try {
      const { code, result } = await invokeLocal(
        { aws: aws.url },
        "onQuarantineRequested",
        "--path",
        "events/triggers/onQuarantineRequested.quarantine-requested.json",
        "--contextPath",
        "events/lambda-context.json",
      );
      expect(code).toBe(1);
      expect(result).toMatchObject({ errorMessage: "StartExecution: ThrottlingException: Rate exceeded" });
      // The SDK's default would have tried three times, sleeping in between.
      expect(aws.requests.map((request) => request.operation)).toEqual(["states:StartExecution"]);
    } finally {
      await aws.close();
    }
  }, 300_000);

  it("the schedule (sweepFleet): reads the managed groups, plans and announces the sweep", async () => {
    const aws = await startFakeAws({
      "autoscaling:DescribeAutoScalingGroups": {
        xml: autoScalingXml("DescribeAutoScalingGroups", "<AutoScalingGroups/>"),
      },
      "events:PutEvents": { json: { FailedEntryCount: 0, Entries: [{ EventId: "fake-event" }] } },
      // No instance a replacement left retiring outside its group.
      "ec2:DescribeInstances": {
        xml: '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>fake</requestId><reservationSet/></DescribeInstancesResponse>',
      },
    });
    const dynamodb = await startEmbeddedDynamoDb(undefined, "phoenix-dev", []);
    try {
      const { code, result, stdout } = await invokeLocal(
        { aws: aws.url, dynamodb: dynamodb.endpoint },
        "sweepFleet",
        "--path",
        "events/triggers/sweepFleet.scheduled.json",
      );
      expect(code, stdout).toBe(0);
      expect(result).toMatchObject({
        dryRun: false,
        plan: { decisions: [], instancesDue: 0, maxConcurrentGroups: 3 },
        replacements: [],
      });
      // The sweep also looks for instances a replacement left retiring (none here).
      expect(aws.requests.map((request) => request.operation).sort()).toEqual([
        "autoscaling:DescribeAutoScalingGroups",
        "ec2:DescribeInstances",
        "events:PutEvents",
      ]);
      const put = JSON.parse(aws.requests.find((r) => r.operation === "events:PutEvents")?.body ?? "{}");
      expect(put.Entries[0]).toMatchObject({ DetailType: "Sweep Started", EventBusName: "default" });
    } finally {
      await dynamodb.close();
      await aws.close();
    }
  }, 300_000);
});
