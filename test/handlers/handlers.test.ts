// Every handler in its real middy stack: the sample events in events/ parse, malformed events fail with an
// error naming the field and make no AWS call at all, and the steps that change things send exactly the
// commands they should.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  type DescribeAutoScalingGroupsCommandOutput,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  type LifecycleState,
  ResumeProcessesCommand,
  SetDesiredCapacityCommand,
  SuspendProcessesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { DescribeExecutionCommand, SFNClient } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { resetCreatedClients, useClients } from "../../functions/aws/clients";
import { CapacityLimitError, InvalidInputError } from "../../functions/engine/errors";
import { useClock } from "../../functions/runtime/clock";
import { logger } from "../../functions/runtime/observability";
import { readStack } from "../../local/stack";
import { importHandler, REPO_ROOT } from "../../local/state-machine";

const autoScaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const dynamodb = mockClient(DynamoDBClient);
const events = mockClient(EventBridgeClient);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const sfn = mockClient(SFNClient);
const mocks = [events, sfn, autoScaling, ec2, dynamodb, elbv2, mockClient(CloudWatchClient)];

beforeEach(() => {
  useClients({});
  resetCreatedClients();
  for (const mock of mocks) mock.reset();
});

// As Lambda passes it: the function's ARN carries the partition, region and account the stack's state
// machine ARNs are built from (functions/runtime/stack.ts).
const context = {
  functionName: "test",
  awsRequestId: "req-1",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:phoenix-local-test",
  getRemainingTimeInMillis: () => 30_000,
};
const handlers = readStack().functions;
const load = importHandler;

/** Every captured sample event, as [file, functionKey, event]. */
const samples = readdirSync(join(REPO_ROOT, "events"), { recursive: true, encoding: "utf8" })
  .filter((file) => file.endsWith(".json") && !file.endsWith("execution-input.json"))
  .map(
    (file) =>
      [
        file,
        file.split("/").pop()?.split(".")[0] as string,
        JSON.parse(readFileSync(join(REPO_ROOT, "events", file), "utf8")),
      ] as const,
  );

const totalCalls = () => mocks.reduce((sum, mock) => sum + mock.calls().length, 0);

/** Removes the value at a dotted path from a deep copy of an object. */
function without(event: object, path: string): object {
  const copy = structuredClone(event) as Record<string, unknown>;
  const parts = path.split(".");
  let cursor = copy;
  for (const part of parts.slice(0, -1)) cursor = cursor[part] as Record<string, unknown>;
  delete cursor[parts[parts.length - 1] as string];
  return copy;
}

describe("sample events", () => {
  it("cover every function the state machine uses", () => {
    const covered = new Set(samples.map(([, key]) => key));
    for (const key of handlers.keys()) expect(covered.has(key), key).toBe(true);
  });

  const stepSamples = samples.filter(
    ([, , event]) =>
      "groupName" in event || (typeof event.request === "object" && "groupName" in event.request),
  );
  it.each(stepSamples.map(([file, key]) => [file, key]))(
    "%s is rejected, naming the field, when groupName is missing",
    async (file, key) => {
      const event = stepSamples.find(([f]) => f === file)?.[2] as Record<string, unknown>;
      const handler = await load(key);
      const field = key === "planReplacement" ? "request.groupName" : "groupName";
      const failure = await handler(without(event, field), context).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(InvalidInputError);
      expect((failure as Error).message).toContain(`${field}:`);
      expect(totalCalls()).toBe(0);
    },
  );

  it.each([
    ["launchWave", "wave.launchCount", "wave.launchCount"],
    ["checkWave", "launch.deadline", "launch.deadline"],
    ["probeWave", "instanceIds", "instanceIds"],
    ["retireInstances", "instanceIds", "instanceIds"],
    ["prepareGroup", "plan.target", "plan.target"],
    ["planReplacement", "request.reason", "request.reason"],
  ])("%s without %s fails before any AWS call", async (key, path, field) => {
    const event = samples.find(([, k]) => k === key)?.[2] as object;
    const failure = await (await load(key))(without(event, path), context).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InvalidInputError);
    expect((failure as Error).message).toContain(field);
    expect(totalCalls()).toBe(0);
  });

  it("rejects wrong types with the field's path", async () => {
    const event = structuredClone(samples.find(([, k]) => k === "launchWave")?.[2]) as {
      wave: { instanceIds: unknown[] };
    };
    event.wave.instanceIds[1] = "not-an-instance";
    const failure = await (await load("launchWave"))(event, context).catch((error: unknown) => error);
    expect((failure as Error).message).toContain("wave.instanceIds[1]: not an EC2 instance id");
    expect(totalCalls()).toBe(0);
  });
});

const groupResponse = (
  desired: number,
  max: number,
  instances: { id: string; state?: string }[],
  suspended: string[] = [],
): DescribeAutoScalingGroupsCommandOutput => ({
  $metadata: {},
  AutoScalingGroups: [
    {
      AutoScalingGroupName: "web-prod",
      MinSize: 1,
      MaxSize: max,
      DesiredCapacity: desired,
      DefaultCooldown: 300,
      AvailabilityZones: ["us-east-1a"],
      HealthCheckType: "ELB",
      CreatedTime: new Date(),
      SuspendedProcesses: suspended.map((ProcessName) => ({
        ProcessName,
        SuspensionReason: "User suspended",
      })),
      Instances: instances.map((instance) => ({
        InstanceId: instance.id,
        AvailabilityZone: "us-east-1a",
        LifecycleState: (instance.state ?? "InService") as LifecycleState,
        HealthStatus: "Healthy",
        ProtectedFromScaleIn: false,
      })),
    },
  ],
});

describe("steps that change things", () => {
  const launchEvent = () =>
    structuredClone(samples.find(([, k]) => k === "launchWave")?.[2]) as Record<string, never>;

  it("launchWave raises desired capacity to desired-at-start + wave size", async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupResponse(12, 16, []));
    autoScaling.on(SetDesiredCapacityCommand).resolves({});
    const result = (await (
      await load("launchWave")
    )(launchEvent(), context)) as { desiredAfter: number; nextCheckSeconds: number };
    expect(autoScaling).toHaveReceivedCommandExactlyOnceWith(SetDesiredCapacityCommand, {
      AutoScalingGroupName: "web-prod",
      DesiredCapacity: 16,
      HonorCooldown: false,
    });
    expect(result.desiredAfter).toBe(16);
  });

  it("launchWave retried after its change went through launches nothing more", async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupResponse(16, 16, []));
    await (await load("launchWave"))(launchEvent(), context);
    expect(autoScaling).not.toHaveReceivedCommand(SetDesiredCapacityCommand);
  });

  it("launchWave refuses to grow past the original MaxSize plus the surge, and changes nothing", async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupResponse(12, 14, []));
    const event = { ...launchEvent(), maxSizeLimit: 15 };
    await expect((await load("launchWave"))(event, context)).rejects.toBeInstanceOf(CapacityLimitError);
    expect(autoScaling).not.toHaveReceivedCommand(SetDesiredCapacityCommand);
    expect(autoScaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
  });

  it("launchWave makes room within that limit when the group grew meanwhile", async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupResponse(12, 14, []));
    autoScaling.on(UpdateAutoScalingGroupCommand).resolves({});
    autoScaling.on(SetDesiredCapacityCommand).resolves({});
    await (await load("launchWave"))({ ...launchEvent(), maxSizeLimit: 16 }, context);
    expect(autoScaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, {
      AutoScalingGroupName: "web-prod",
      MaxSize: 16,
    });
    expect(autoScaling).toHaveReceivedCommandWith(SetDesiredCapacityCommand, { DesiredCapacity: 16 });
  });

  it("retireInstances takes only live, unquarantined members the plan named out of service, in bulk", async () => {
    const event = {
      executionId: "x",
      groupName: "web-prod",
      floor: 2,
      instanceIds: [
        "i-00000000000000001",
        "i-00000000000000002",
        "i-00000000000000003",
        "i-00000000000000004",
      ],
    };
    const withTargetGroup = groupResponse(6, 8, [
      { id: "i-00000000000000001" },
      { id: "i-00000000000000002" },
      { id: "i-00000000000000003", state: "Terminating" },
      { id: "i-00000000000000009" },
      { id: "i-00000000000000010" },
    ]);
    const targetGroupArn =
      "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";
    (withTargetGroup.AutoScalingGroups?.[0] as { TargetGroupARNs?: string[] }).TargetGroupARNs = [
      targetGroupArn,
    ];
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(withTargetGroup);
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: "i-00000000000000002", Tags: [{ Key: "phoenix:quarantined", Value: "case-1" }] },
          ],
        },
      ],
    });
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: ["i-00000000000000001", "i-00000000000000009", "i-00000000000000010"].map(
        (Id) => ({
          Target: { Id },
          TargetHealth: { State: "healthy" },
        }),
      ),
    });
    autoScaling.on(DetachInstancesCommand).resolves({});
    ec2.on(CreateTagsCommand).resolves({});
    const result = await (await load("retireInstances"))(event, context);
    // Marked as this execution's, then out of the group decrementing; Auto Scaling drains it meanwhile.
    expect(ec2).toHaveReceivedCommandWith(CreateTagsCommand, {
      Resources: ["i-00000000000000001"],
      Tags: [
        { Key: "phoenix:retiring", Value: "x" },
        { Key: "phoenix:retired-at", Value: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      ],
    });
    // Draining starts for all of them at once, before the detaching (20 per call) begins.
    expect(elbv2).toHaveReceivedCommandExactlyOnceWith(DeregisterTargetsCommand, {
      TargetGroupArn: targetGroupArn,
      Targets: [{ Id: "i-00000000000000001" }],
    });
    expect(
      elbv2
        .commandCalls(DeregisterTargetsCommand)[0]
        ?.calledBefore(autoScaling.commandCalls(DetachInstancesCommand)[0] as never),
    ).toBe(true);
    expect(autoScaling).toHaveReceivedCommandExactlyOnceWith(DetachInstancesCommand, {
      AutoScalingGroupName: "web-prod",
      InstanceIds: ["i-00000000000000001"],
      ShouldDecrementDesiredCapacity: true,
    });
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
    expect(autoScaling).not.toHaveReceivedCommand(TerminateInstanceInAutoScalingGroupCommand);
    expect(result).toMatchObject({
      retiring: ["i-00000000000000001"],
      skipped: [
        { instanceId: "i-00000000000000002", why: "quarantined" },
        { instanceId: "i-00000000000000003", why: "already Terminating" },
        { instanceId: "i-00000000000000004", why: "no longer in the group" },
      ],
      desiredAfter: 5,
    });
  });

  it("retireInstances refuses to go below the floor, changing nothing", async () => {
    // Two members serving (no target groups: InService and Healthy is serving), floor 2.
    autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolves(groupResponse(2, 3, [{ id: "i-00000000000000001" }, { id: "i-00000000000000009" }]));
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const event = { executionId: "x", groupName: "web-prod", floor: 2, instanceIds: ["i-00000000000000001"] };
    await expect((await load("retireInstances"))(event, context)).rejects.toThrow(
      "taking 1 out of service would leave 1 healthy in service; the floor is 2",
    );
    expect(autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(ec2).not.toHaveReceivedCommand(CreateTagsCommand);
  });

  it("reapRetired terminates this execution's retired instances once detached, and waits for the others", async () => {
    autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolves(
        groupResponse(2, 3, [
          { id: "i-00000000000000001", state: "Detaching" },
          { id: "i-00000000000000009" },
        ]),
      );
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: ["i-00000000000000001", "i-00000000000000002"].map((InstanceId) => ({
            InstanceId,
            State: { Name: "running" },
            // Taken out of service 10 s ago.
            Tags: [
              { Key: "phoenix:retiring", Value: "x" },
              { Key: "phoenix:retired-at", Value: "2026-11-23T09:59:50.000Z" },
            ],
          })),
        },
      ],
    });
    ec2.on(TerminateInstancesCommand).resolves({});
    useClock(() => Date.parse("2026-11-23T10:00:00.000Z"));
    const event = { executionId: "x", groupName: "web-prod", drainSeconds: 30, pollSeconds: 10, reap: {} };
    const result = await (await load("reapRetired"))(event, context);
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: [
        { Name: "tag:phoenix:retiring", Values: ["x"] },
        { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
      ],
    });
    expect(ec2).toHaveReceivedCommandExactlyOnceWith(TerminateInstancesCommand, {
      InstanceIds: ["i-00000000000000002"],
    });
    expect(result).toMatchObject({
      done: false,
      timedOut: false,
      waiting: ["i-00000000000000001"],
      // Nothing more drains before the deregistration delay is out: 20 s more, and a second for the detach.
      nextCheckSeconds: 21,
    });
    useClock(() => Date.parse("2026-11-23T10:00:21.000Z"));
    const later = await (await load("reapRetired"))(
      { ...event, reap: { deadline: (result as { deadline: string }).deadline } },
      context,
    );
    // Past that, it polls.
    expect(later).toMatchObject({ done: false, nextCheckSeconds: 10 });
    useClock();
  });

  it("prepareGroup pins the version and suspends only processes that were running", async () => {
    const event = structuredClone(samples.find(([, k]) => k === "prepareGroup")?.[2]) as {
      plan: { previous: { suspendedProcesses: string[] } };
    };
    event.plan.previous.suspendedProcesses = ["AZRebalance"];
    autoScaling.on(UpdateAutoScalingGroupCommand).resolves({});
    autoScaling.on(SuspendProcessesCommand).resolves({});
    const result = await (await load("prepareGroup"))(event, context);
    expect(autoScaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, {
      AutoScalingGroupName: "web-prod",
      LaunchTemplate: { LaunchTemplateId: expect.stringMatching(/^lt-/), Version: "2" },
      MaxSize: 16,
      MinSize: 12,
    });
    expect(autoScaling).toHaveReceivedCommandExactlyOnceWith(SuspendProcessesCommand, {
      AutoScalingGroupName: "web-prod",
      ScalingProcesses: ["ScheduledActions"],
    });
    expect(result).toMatchObject({ pinnedVersion: "2", suspendedByPhoenix: ["ScheduledActions"] });
  });

  it("puts the execution and the group on the log lines of every invocation", async () => {
    const appendKeys = vi.spyOn(logger, "appendKeys");
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupResponse(12, 16, []));
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    dynamodb.on(UpdateItemCommand).resolves({});
    const event = samples.find(([, k]) => k === "startWave")?.[2] as {
      executionId: string;
      groupName: string;
    };
    await (await load("startWave"))(event, context);
    expect(event.executionId).toMatch(/^arn:aws:states:.*:execution:/);
    expect(appendKeys).toHaveBeenCalledWith({ executionId: event.executionId, groupName: event.groupName });
  });
});

describe("the janitor (reclaimGroup)", () => {
  const timedOut = () =>
    structuredClone(samples.find(([file]) => file.endsWith("reclaimGroup.timed-out.json"))?.[2]) as {
      detail: { executionArn: string };
    };
  const lockItem = (owner: string) => ({
    Item: {
      id: { S: "lock#group#web-prod" },
      owner: { S: owner },
      acquiredAt: { S: "2026-11-23T09:00:00.000Z" },
      expiresAt: { N: "1795430000" },
      previous: {
        S: JSON.stringify({
          launchTemplate: {
            launchTemplateId: "lt-0123456789abcdef0",
            launchTemplateName: "web",
            version: "1",
          },
          minSize: 12,
          maxSize: 12,
          desiredCapacity: 12,
          suspendedProcesses: [],
        }),
      },
    },
  });

  beforeEach(() => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  });

  it("undoes a timed-out replacement that still holds the lock: version, sizes, processes, lock, event", async () => {
    const event = timedOut();
    dynamodb.on(GetItemCommand).resolves(lockItem(event.detail.executionArn));
    dynamodb.on(DeleteItemCommand).resolves({});
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupResponse(16, 16, [], ["AZRebalance"]));
    autoScaling.on(UpdateAutoScalingGroupCommand).resolves({});
    autoScaling.on(ResumeProcessesCommand).resolves({});
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] });
    const result = await (await load("reclaimGroup"))(event, context);
    expect(autoScaling).toHaveReceivedCommandWith(UpdateAutoScalingGroupCommand, {
      AutoScalingGroupName: "web-prod",
      LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", Version: "1" },
      MinSize: 12,
      MaxSize: 16,
    });
    expect(dynamodb).toHaveReceivedCommandTimes(DeleteItemCommand, 1);
    expect(result).toMatchObject({
      reclaimed: true,
      status: "TIMED_OUT",
      left: { desiredCapacity: 16, before: 12 },
    });
  });

  it("terminates what the stopped execution took out of service once it left the group, names what still drains", async () => {
    const event = timedOut();
    const retiring = (id: string, extra: Record<string, string> = {}) => ({
      InstanceId: id,
      State: { Name: "running" as const },
      Tags: Object.entries({
        "phoenix:retiring": event.detail.executionArn,
        "phoenix:managed": "true",
        ...extra,
      }).map(([Key, Value]) => ({ Key, Value })),
    });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            retiring("i-0aaaaaaaaaaaaaaa1"),
            retiring("i-0aaaaaaaaaaaaaaa2"),
            retiring("i-0aaaaaaaaaaaaaaa3", { "phoenix:quarantined": "IR-1" }),
          ],
        },
      ],
    });
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: [
        { InstanceId: "i-0aaaaaaaaaaaaaaa2", AutoScalingGroupName: "web-prod" } as never,
      ],
    });
    ec2.on(TerminateInstancesCommand).resolves({});
    dynamodb.on(GetItemCommand).resolves(lockItem("arn:aws:states:us-east-1:123456789012:execution:x:other"));
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] });
    const result = await (await load("reclaimGroup"))(event, context);
    expect(ec2).toHaveReceivedCommandTimes(TerminateInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, {
      InstanceIds: ["i-0aaaaaaaaaaaaaaa1"],
    });
    expect(result).toMatchObject({
      reclaimed: false,
      retired: {
        terminated: ["i-0aaaaaaaaaaaaaaa1"],
        leftDraining: ["i-0aaaaaaaaaaaaaaa2", "i-0aaaaaaaaaaaaaaa3"],
      },
    });
    expect(events).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(autoScaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
  });

  it("leaves alone a group whose lock another execution holds", async () => {
    dynamodb.on(GetItemCommand).resolves(lockItem("arn:aws:states:us-east-1:123456789012:execution:x:other"));
    const result = await (await load("reclaimGroup"))(timedOut(), context);
    expect(result).toMatchObject({ reclaimed: false });
    expect(autoScaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
    expect(dynamodb).not.toHaveReceivedCommand(DeleteItemCommand);
  });

  it("refuses, asked directly, to take a group from a running execution; a dry run changes nothing", async () => {
    const executionArn = timedOut().detail.executionArn;
    sfn.on(DescribeExecutionCommand).resolves({ status: "RUNNING" });
    await expect(
      (await load("reclaimGroup"))({ executionArn, groupName: "web-prod" }, context),
    ).rejects.toThrow(/executionArn: .* is still running/);
    sfn.on(DescribeExecutionCommand).resolves({ status: "ABORTED" });
    dynamodb.on(GetItemCommand).resolves(lockItem(executionArn));
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupResponse(16, 16, []));
    const dry = await (await load("reclaimGroup"))(
      { executionArn, groupName: "web-prod", dryRun: true },
      context,
    );
    expect(dry).toMatchObject({
      dryRun: true,
      restoration: { update: { launchTemplate: { version: "1" } } },
    });
    expect(autoScaling).not.toHaveReceivedCommand(UpdateAutoScalingGroupCommand);
    expect(dynamodb).not.toHaveReceivedCommand(DeleteItemCommand);
  });
});
