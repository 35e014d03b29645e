import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type PolicyStatement, policyProblems, USED_RESOURCES } from "../deploy/least-privilege";
import { IAM_FILE, IMPLIED, iamFileText } from "../deploy/permissions";
import { actionsByFunction } from "../local/permissions";
import { functionRoles } from "../local/sim/iam";
import { type Deployment, deploy, packagedTemplate, resolve, type Template } from "../local/sim/template";
import { REPO_ROOT } from "../local/state-machine";

// The deployable exactly as `npx osls package` builds it (no credentials, no network), cached until
// serverless.yml, deploy/iam.yml or a state machine changes (local/sim/template.ts).
let template: Template;
let deployment: Deployment;

beforeAll(async () => {
  template = await packagedTemplate();
  deployment = deploy(template);
}, 600_000);

describe("npx osls package", () => {
  it("writes a template with the replace-group state machine", () => {
    expect(template.Resources.ReplaceGroupStateMachine.Type).toBe("AWS::StepFunctions::StateMachine");
    expect(template.Outputs?.ReplaceGroupStateMachineArn).toBeDefined();
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
});

/** Phoenix's own resources in the deployment: its table, bus and state machines (and their executions). */
function ownResources(): string[] {
  const own: string[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (["AWS::DynamoDB::Table", "AWS::Events::EventBus"].includes(resource.Type))
      own.push(deployment.attributeOf(logicalId, "Arn"));
    if (resource.Type === "AWS::StepFunctions::StateMachine") {
      const arn = deployment.refOf(logicalId);
      own.push(arn, `${arn.replace(":stateMachine:", ":execution:")}:*`);
    }
  }
  return own;
}

describe("least privilege", () => {
  it("deploy/iam.yml is what the code and the rules give today (npm run permissions -- --write)", async () => {
    expect(readFileSync(IAM_FILE, "utf8")).toBe(await iamFileText());
  });

  it("every function has its own role allowing exactly what its code calls; every mutation bound to what Phoenix manages, by AWS's resource types", async () => {
    const called = await actionsByFunction();
    expect(called.size).toBeGreaterThan(25);
    const roles = functionRoles(deployment);
    const own = ownResources();
    const problems: string[] = [];
    for (const [key, calls] of called) {
      const logicalId = `${key[0]?.toUpperCase()}${key.slice(1)}`;
      expect(template.Resources[`${logicalId}LambdaFunction`].Properties.Role, key).toEqual({
        "Fn::GetAtt": [`${logicalId}IamRoleLambdaExecution`, "Arn"],
      });
      const statements = (roles.get(key)?.policies ?? []).flatMap(
        (policy) => policy.policy.Statement as PolicyStatement[],
      );
      problems.push(...(await policyProblems(statements, calls, own)).map((problem) => `${key}: ${problem}`));
    }
    expect(problems).toEqual([]);
  });

  it("no function can change an Auto Scaling group without the phoenix:managed condition", () => {
    const statements = [...functionRoles(deployment).values()].flatMap((role) =>
      role.policies.flatMap((policy) => policy.policy.Statement),
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

  it("every extra authorisation and every used-not-changed resource says where AWS documents it or why", () => {
    for (const [call, row] of Object.entries(IMPLIED))
      expect(row.source, call).toMatch(/^https:\/\/docs\.aws\.amazon\.com\//);
    for (const reasons of Object.values(USED_RESOURCES))
      for (const why of Object.values(reasons)) expect(why.length).toBeGreaterThan(20);
  });

  it("the check finds what it should", async () => {
    const account = "arn:aws:ec2:us-east-1:123456789012";
    const problems = (statement: PolicyStatement, calls: string[]) => policyProblems([statement], calls);
    // A mutation on everything, an unused grant, a missing one.
    expect(
      await problems(
        { Effect: "Allow", Action: ["ec2:TerminateInstances", "ec2:DescribeInstances"], Resource: "*" },
        ["ec2:DescribeInstances", "ec2:CreateSnapshot"],
      ),
    ).toEqual([
      "calls ec2:CreateSnapshot but may not",
      "may call ec2:TerminateInstances but never does",
      "ec2:TerminateInstances on * (no Sid)",
      "ec2:TerminateInstances on * without a resource-tag or created-by condition (no Sid)",
    ]);
    expect(await problems({ Effect: "Allow", Action: "ec2:*", Resource: "*" }, [])).toContain(
      "wildcard action ec2:*",
    );
    // What bit us: network interfaces and snapshots of any resource of the account.
    expect(
      await problems(
        {
          Sid: "S",
          Effect: "Allow",
          Action: "ec2:ModifyNetworkInterfaceAttribute",
          Resource: `${account}:network-interface/*`,
        },
        ["ec2:ModifyNetworkInterfaceAttribute"],
      ),
    ).toEqual([
      `ec2:ModifyNetworkInterfaceAttribute on ${account}:network-interface/* without a resource-tag or created-by condition (S)`,
    ]);
    // A resource that is no resource type of the action, by iam-data.
    expect(
      await problems(
        {
          Sid: "S",
          Effect: "Allow",
          Action: "ec2:CreateSnapshot",
          Resource: `${account}:instance/*`,
          Condition: { StringEquals: { "aws:ResourceTag/phoenix:managed": "true" } },
        },
        ["ec2:CreateSnapshot"],
      ),
    ).toContain(`${account}:instance/* is no resource type of ec2:CreateSnapshot (S)`);
    // A condition key that does not apply to the action, by iam-data.
    expect(
      await problems(
        {
          Sid: "S",
          Effect: "Allow",
          Action: "ec2:TerminateInstances",
          Resource: `${account}:instance/*`,
          Condition: { StringEquals: { "autoscaling:ResourceTag/phoenix:managed": "true" } },
        },
        ["ec2:TerminateInstances"],
      ),
    ).toContain(
      "condition key autoscaling:ResourceTag/phoenix:managed does not apply to ec2:TerminateInstances (S)",
    );
    // Passing a role: only with iam:PassedToService.
    expect(
      await problems(
        { Sid: "P", Effect: "Allow", Action: "iam:PassRole", Resource: "arn:aws:iam::123456789012:role/*" },
        ["ec2:AssociateIamInstanceProfile"],
      ),
    ).toContain(
      "iam:PassRole on arn:aws:iam::123456789012:role/* without a resource-tag or created-by condition (P)",
    );
  });

  it("resolves every role's statements for the simulator (the template's intrinsics)", () => {
    const role = functionRoles(deployment).get("isolateInstances");
    expect(JSON.stringify(role?.policies)).not.toMatch(/Fn::|"Ref"/);
    expect(resolve({ "Fn::Join": ["", ["a", { Ref: "AWS::AccountId" }]] }, deployment)).toBe("a123456789012");
  });
});
