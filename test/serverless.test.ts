import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IAM_FILE, iamFileText, type PolicyStatement, policyProblems } from "../deploy/permissions";
import { actionsByFunction } from "../local/permissions";
import { REPO_ROOT } from "../local/state-machine";

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
}, 120_000);

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
