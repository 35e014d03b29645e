// The aws/ adapters, Prepare / Act / Assess, with aws-sdk-client-mock: the exact commands they send and
// how SDK errors become named Phoenix errors.
import {
  AutoScalingClient,
  AutoScalingServiceException,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  SuspendProcessesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  EC2ServiceException,
} from "@aws-sdk/client-ec2";
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  describeGroup,
  setDesiredCapacity,
  suspendProcesses,
  terminateInstanceInGroup,
  updateGroup,
} from "../../functions/aws/autoscaling";
import { resetCreatedClients, useClients } from "../../functions/aws/clients";
import { describeAlarmStates } from "../../functions/aws/cloudwatch";
import { describeInstances, resolveLaunchTemplateVersion } from "../../functions/aws/ec2";
import {
  deregisterTargets,
  describeTargetGroupTimings,
  describeTargetHealth,
} from "../../functions/aws/elbv2";
import { translateAwsError } from "../../functions/aws/errors";
import { publishEvent } from "../../functions/aws/events";
import {
  AwsRequestRejectedError,
  CapacityLimitError,
  ThrottledError,
  TransientAwsError,
} from "../../functions/engine/errors";
import { TG_ARN } from "../fixtures";

const autoScaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const cloudWatch = mockClient(CloudWatchClient);
const eventBridge = mockClient(EventBridgeClient);

beforeEach(() => {
  useClients({});
  resetCreatedClients();
  for (const mock of [autoScaling, ec2, elbv2, cloudWatch, eventBridge]) mock.reset();
});

const sdkError = (name: string, status: number, message = "boom") =>
  new AutoScalingServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
    message,
  });

describe("Auto Scaling adapter", () => {
  it("reads a group into the engine's snapshot", async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand, { AutoScalingGroupNames: ["web"] }).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: "web",
          MinSize: 2,
          MaxSize: 6,
          DesiredCapacity: 3,
          DefaultCooldown: 300,
          AvailabilityZones: ["us-east-1a"],
          HealthCheckType: "ELB",
          CreatedTime: new Date(),
          LaunchTemplate: { LaunchTemplateId: "lt-1", LaunchTemplateName: "web", Version: "$Latest" },
          TargetGroupARNs: [TG_ARN],
          SuspendedProcesses: [{ ProcessName: "AZRebalance" }],
          Tags: [{ Key: "phoenix:managed", Value: "true" }],
          Instances: [
            {
              InstanceId: "i-0123456789abcdef0",
              AvailabilityZone: "us-east-1a",
              LifecycleState: "InService",
              HealthStatus: "Healthy",
              ProtectedFromScaleIn: false,
              LaunchTemplate: { LaunchTemplateId: "lt-1", Version: "4" },
            },
          ],
        },
      ],
    });
    const group = await describeGroup("web");
    expect(group).toMatchObject({
      groupName: "web",
      minSize: 2,
      maxSize: 6,
      desiredCapacity: 3,
      launchTemplate: { launchTemplateId: "lt-1", launchTemplateName: "web", version: "$Latest" },
      targetGroupArns: [TG_ARN],
      suspendedProcesses: ["AZRebalance"],
      tags: { "phoenix:managed": "true" },
      instances: [
        { instanceId: "i-0123456789abcdef0", lifecycleState: "InService", launchTemplateVersion: "4" },
      ],
    });
  });

  it("answers undefined for a group that does not exist", async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    expect(await describeGroup("gone")).toBeUndefined();
  });

  it("pins an explicit launch template version and sizes in one UpdateAutoScalingGroup", async () => {
    autoScaling.on(UpdateAutoScalingGroupCommand).resolves({});
    await updateGroup({
      groupName: "web",
      launchTemplate: { launchTemplateId: "lt-1", version: "7" },
      minSize: 2,
      maxSize: 8,
    });
    expect(autoScaling).toHaveReceivedCommandExactlyOnceWith(UpdateAutoScalingGroupCommand, {
      AutoScalingGroupName: "web",
      LaunchTemplate: { LaunchTemplateId: "lt-1", Version: "7" },
      MinSize: 2,
      MaxSize: 8,
    });
  });

  it("sets desired capacity without honouring cooldowns, and terminates decrementing", async () => {
    autoScaling.on(SetDesiredCapacityCommand).resolves({});
    autoScaling.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
    await setDesiredCapacity("web", 5);
    await terminateInstanceInGroup("i-0123456789abcdef0", true);
    expect(autoScaling).toHaveReceivedCommandWith(SetDesiredCapacityCommand, {
      AutoScalingGroupName: "web",
      DesiredCapacity: 5,
      HonorCooldown: false,
    });
    expect(autoScaling).toHaveReceivedCommandWith(TerminateInstanceInAutoScalingGroupCommand, {
      InstanceId: "i-0123456789abcdef0",
      ShouldDecrementDesiredCapacity: true,
    });
  });

  it("sends nothing to suspend an empty list of processes", async () => {
    await suspendProcesses("web", []);
    expect(autoScaling).not.toHaveReceivedCommand(SuspendProcessesCommand);
  });

  it.each([
    ["Throttling", 400, ThrottledError],
    ["ScalingActivityInProgress", 400, TransientAwsError],
    ["InternalFailure", 500, TransientAwsError],
    ["ServiceUnavailable", 503, TransientAwsError],
    ["AccessDenied", 403, AwsRequestRejectedError],
  ])("turns %s (%i) into a named error", async (name, status, expected) => {
    autoScaling.on(SetDesiredCapacityCommand).rejects(sdkError(name, status));
    const failure = await setDesiredCapacity("web", 5).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(expected);
    expect((failure as Error).message).toContain(`SetDesiredCapacity: ${name}`);
  });

  it("turns a desired-capacity ValidationError into CapacityLimitError", async () => {
    autoScaling
      .on(SetDesiredCapacityCommand)
      .rejects(
        sdkError(
          "ValidationError",
          400,
          "New SetDesiredCapacity value 9 is above max value 8 for the AutoScalingGroup.",
        ),
      );
    await expect(setDesiredCapacity("web", 9)).rejects.toBeInstanceOf(CapacityLimitError);
  });
});

describe("EC2 adapter", () => {
  it("describes instances by filter in chunks of 200, following every page", async () => {
    const ids = Array.from({ length: 250 }, (_, n) => `i-${n.toString(16).padStart(17, "0")}`);
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce({
        Reservations: [
          {
            Instances: [
              {
                InstanceId: ids[0],
                ImageId: "ami-1",
                LaunchTime: new Date("2026-01-01T00:00:00Z"),
                Tags: [{ Key: "a", Value: "b" }],
              },
            ],
          },
        ],
        NextToken: "p2",
      })
      .resolves({
        Reservations: [{ Instances: [{ InstanceId: ids[1], ImageId: "ami-2", State: { Name: "running" } }] }],
      });
    const found = await describeInstances(ids);
    const calls = ec2.commandCalls(DescribeInstancesCommand);
    expect(
      calls.map((call) => [call.args[0].input.Filters?.[0]?.Values?.length, call.args[0].input.NextToken]),
    ).toEqual([
      [200, undefined],
      [200, "p2"],
      [50, undefined],
    ]);
    expect(found[0]).toEqual({
      instanceId: ids[0],
      imageId: "ami-1",
      launchTime: "2026-01-01T00:00:00.000Z",
      state: undefined,
      privateIpAddress: undefined,
      tags: { a: "b" },
    });
  });

  it("resolves $Latest to an explicit version number and its image", async () => {
    ec2
      .on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateId: "lt-1", Versions: ["$Latest"] })
      .resolves({
        LaunchTemplateVersions: [
          {
            LaunchTemplateId: "lt-1",
            LaunchTemplateName: "web",
            VersionNumber: 7,
            LaunchTemplateData: { ImageId: "ami-7" },
          },
        ],
      });
    expect(await resolveLaunchTemplateVersion("lt-1", "$Latest")).toEqual({
      launchTemplateId: "lt-1",
      launchTemplateName: "web",
      version: "7",
      imageId: "ami-7",
    });
  });

  it("answers undefined for a missing version instead of failing", async () => {
    ec2.on(DescribeLaunchTemplateVersionsCommand).rejects(
      new EC2ServiceException({
        name: "InvalidLaunchTemplateId.VersionNotFound",
        $fault: "client",
        $metadata: {},
        message: "no",
      }),
    );
    expect(await resolveLaunchTemplateVersion("lt-1", "99")).toBeUndefined();
  });

  it("turns RequestLimitExceeded into ThrottledError", async () => {
    ec2.on(DescribeInstancesCommand).rejects(
      new EC2ServiceException({
        name: "RequestLimitExceeded",
        $fault: "client",
        $metadata: { httpStatusCode: 503 },
        message: "Request limit exceeded.",
      }),
    );
    await expect(describeInstances(["i-0123456789abcdef0"])).rejects.toBeInstanceOf(ThrottledError);
  });
});

describe("Elastic Load Balancing adapter", () => {
  it("leaves out targets that are not registered", async () => {
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: "i-1" }, TargetHealth: { State: "healthy" } },
        { Target: { Id: "i-2" }, TargetHealth: { State: "unused", Reason: "Target.NotRegistered" } },
        {
          Target: { Id: "i-3" },
          TargetHealth: { State: "draining", Reason: "Target.DeregistrationInProgress" },
        },
      ],
    });
    expect(await describeTargetHealth(TG_ARN, ["i-1", "i-2", "i-3"])).toEqual([
      { targetGroupArn: TG_ARN, instanceId: "i-1", state: "healthy", reason: undefined },
      {
        targetGroupArn: TG_ARN,
        instanceId: "i-3",
        state: "draining",
        reason: "Target.DeregistrationInProgress",
      },
    ]);
    expect(elbv2).toHaveReceivedCommandWith(DescribeTargetHealthCommand, {
      TargetGroupArn: TG_ARN,
      Targets: [{ Id: "i-1" }, { Id: "i-2" }, { Id: "i-3" }],
    });
  });

  it("deregisters all instances of a wave in one call per target group", async () => {
    elbv2.on(DeregisterTargetsCommand).resolves({});
    await deregisterTargets(TG_ARN, ["i-1", "i-2"]);
    expect(elbv2).toHaveReceivedCommandExactlyOnceWith(DeregisterTargetsCommand, {
      TargetGroupArn: TG_ARN,
      Targets: [{ Id: "i-1" }, { Id: "i-2" }],
    });
  });

  it("reads health-check thresholds and the deregistration delay", async () => {
    elbv2.on(DescribeTargetGroupsCommand).resolves({
      TargetGroups: [
        {
          TargetGroupArn: TG_ARN,
          HealthCheckIntervalSeconds: 10,
          HealthyThresholdCount: 3,
          UnhealthyThresholdCount: 2,
        },
      ],
    });
    elbv2
      .on(DescribeTargetGroupAttributesCommand)
      .resolves({ Attributes: [{ Key: "deregistration_delay.timeout_seconds", Value: "45" }] });
    expect(await describeTargetGroupTimings([TG_ARN])).toEqual([
      {
        targetGroupArn: TG_ARN,
        healthCheckIntervalSeconds: 10,
        healthyThresholdCount: 3,
        unhealthyThresholdCount: 2,
        deregistrationDelaySeconds: 45,
      },
    ]);
  });
});

describe("CloudWatch and EventBridge adapters", () => {
  it("reads alarm states, metric and composite", async () => {
    cloudWatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: "a", StateValue: "OK" }],
      CompositeAlarms: [{ AlarmName: "b", StateValue: "ALARM" }],
    });
    expect(await describeAlarmStates(["a", "b", "c"])).toEqual([
      { alarmName: "a", state: "OK" },
      { alarmName: "b", state: "ALARM" },
    ]);
  });

  it("publishes a phoenix event and fails (retryably) when EventBridge drops it", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: "1" }] })
      .resolves({
        FailedEntryCount: 1,
        Entries: [{ ErrorCode: "InternalFailure", ErrorMessage: "try again" }],
      });
    await publishEvent("default", "Replacement Completed", { groupName: "web" });
    expect(eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [
        {
          EventBusName: "default",
          Source: "phoenix",
          DetailType: "Replacement Completed",
          Detail: '{"groupName":"web"}',
        },
      ],
    });
    await expect(publishEvent("default", "Replacement Completed", {})).rejects.toBeInstanceOf(
      TransientAwsError,
    );
  });
});

describe("error translation", () => {
  it("passes Phoenix errors through and treats network resets as transient", () => {
    const own = new ThrottledError("x");
    expect(translateAwsError(own, "Op")).toBe(own);
    expect(
      translateAwsError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), "Op"),
    ).toBeInstanceOf(TransientAwsError);
    expect(translateAwsError("weird", "Op")).toBeInstanceOf(AwsRequestRejectedError);
  });
});
