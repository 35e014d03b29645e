// The isolation and evidence adapters, with aws-sdk-client-mock: the exact commands, in the order that
// matters (all-traffic group before the isolation group; preservation before anything else).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DisassociateAddressCommand,
  DisassociateIamInstanceProfileCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
  RevokeSecurityGroupEgressCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { resetCreatedClients, useClients } from "../../functions/aws/clients";
import { protectInstance } from "../../functions/aws/evidence";
import { ensureIsolationGroups } from "../../functions/aws/isolation";
import { REPO_ROOT } from "../../local/stack";
import { importHandler } from "../../local/state-machine";

const ec2 = mockClient(EC2Client);
beforeEach(() => {
  useClients({});
  resetCreatedClients();
  ec2.reset();
});

const ALL_TRAFFIC = [{ IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] }];

describe("isolation groups", () => {
  it("creates, once per VPC, an all-traffic group and a group with no rules at all", async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2
      .on(CreateSecurityGroupCommand, { GroupName: "phoenix-isolation-untrack" })
      .resolves({ GroupId: "sg-untrack" });
    ec2
      .on(CreateSecurityGroupCommand, { GroupName: "phoenix-isolation" })
      .resolves({ GroupId: "sg-isolation" });
    expect(await ensureIsolationGroups("vpc-1")).toEqual({
      untrackGroupId: "sg-untrack",
      isolationGroupId: "sg-isolation",
    });
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupsCommand, {
      Filters: [
        { Name: "vpc-id", Values: ["vpc-1"] },
        { Name: "group-name", Values: ["phoenix-isolation-untrack"] },
      ],
    });
    expect(ec2).toHaveReceivedCommandWith(AuthorizeSecurityGroupIngressCommand, {
      GroupId: "sg-untrack",
      IpPermissions: ALL_TRAFFIC,
    });
    expect(ec2).toHaveReceivedCommandWith(RevokeSecurityGroupEgressCommand, {
      GroupId: "sg-isolation",
      IpPermissions: ALL_TRAFFIC,
    });
    expect(ec2).toHaveReceivedCommandWith(CreateSecurityGroupCommand, {
      GroupName: "phoenix-isolation",
      VpcId: "vpc-1",
      TagSpecifications: [
        { ResourceType: "security-group", Tags: [{ Key: "phoenix:managed", Value: "true" }] },
      ],
    });
  });

  it("finds them afterwards instead of creating them again, and leaves rules that are right alone", async () => {
    ec2
      .on(DescribeSecurityGroupsCommand, {
        Filters: [
          { Name: "vpc-id", Values: ["vpc-1"] },
          { Name: "group-name", Values: ["phoenix-isolation-untrack"] },
        ],
      })
      .resolves({
        SecurityGroups: [
          { GroupId: "sg-untrack", IpPermissions: ALL_TRAFFIC, IpPermissionsEgress: ALL_TRAFFIC },
        ],
      })
      .on(DescribeSecurityGroupsCommand, {
        Filters: [
          { Name: "vpc-id", Values: ["vpc-1"] },
          { Name: "group-name", Values: ["phoenix-isolation"] },
        ],
      })
      .resolves({
        SecurityGroups: [{ GroupId: "sg-isolation", IpPermissions: [], IpPermissionsEgress: [] }],
      });
    expect(await ensureIsolationGroups("vpc-1")).toEqual({
      untrackGroupId: "sg-untrack",
      isolationGroupId: "sg-isolation",
    });
    expect(ec2).not.toHaveReceivedCommand(CreateSecurityGroupCommand);
    expect(ec2).not.toHaveReceivedCommand(AuthorizeSecurityGroupIngressCommand);
    expect(ec2).not.toHaveReceivedCommand(RevokeSecurityGroupEgressCommand);
  });

  it("puts right a group an earlier attempt created but failed to set up (a throttled call)", async () => {
    // The isolation group still has the outbound rule every new group starts with; the untrack group no rule.
    ec2
      .on(DescribeSecurityGroupsCommand, {
        Filters: [
          { Name: "vpc-id", Values: ["vpc-1"] },
          { Name: "group-name", Values: ["phoenix-isolation-untrack"] },
        ],
      })
      .resolves({
        SecurityGroups: [{ GroupId: "sg-untrack", IpPermissions: [], IpPermissionsEgress: ALL_TRAFFIC }],
      })
      .on(DescribeSecurityGroupsCommand, {
        Filters: [
          { Name: "vpc-id", Values: ["vpc-1"] },
          { Name: "group-name", Values: ["phoenix-isolation"] },
        ],
      })
      .resolves({
        SecurityGroups: [{ GroupId: "sg-isolation", IpPermissions: [], IpPermissionsEgress: ALL_TRAFFIC }],
      });
    await ensureIsolationGroups("vpc-1");
    expect(ec2).not.toHaveReceivedCommand(CreateSecurityGroupCommand);
    expect(ec2).toHaveReceivedCommandWith(AuthorizeSecurityGroupIngressCommand, {
      GroupId: "sg-untrack",
      IpPermissions: ALL_TRAFFIC,
    });
    expect(ec2).toHaveReceivedCommandWith(RevokeSecurityGroupEgressCommand, {
      GroupId: "sg-isolation",
      IpPermissions: ALL_TRAFFIC,
    });
  });
});

describe("preservation", () => {
  it("turns on termination protection, makes shutdown stop, and keeps every volume", async () => {
    ec2.on(ModifyInstanceAttributeCommand).resolves({});
    await protectInstance("i-0123456789abcdef0", ["/dev/xvda", "/dev/sdf"]);
    const calls = ec2.commandCalls(ModifyInstanceAttributeCommand).map((call) => call.args[0].input);
    expect(calls).toEqual([
      { InstanceId: "i-0123456789abcdef0", DisableApiTermination: { Value: true } },
      { InstanceId: "i-0123456789abcdef0", InstanceInitiatedShutdownBehavior: { Value: "stop" } },
      {
        InstanceId: "i-0123456789abcdef0",
        BlockDeviceMappings: [
          { DeviceName: "/dev/xvda", Ebs: { DeleteOnTermination: false } },
          { DeviceName: "/dev/sdf", Ebs: { DeleteOnTermination: false } },
        ],
      },
    ]);
  });
});

describe("the isolate step", () => {
  it("moves every interface to the all-traffic group, then to the isolation group; then detaches the Elastic IP and removes the profile", async () => {
    const event = JSON.parse(
      readFileSync(join(REPO_ROOT, "events", "quarantine", "isolateInstances.Isolate.json"), "utf8"),
    );
    const eni = event.plan.instances[0].networkInterfaces[0].networkInterfaceId;
    ec2
      .on(DescribeSecurityGroupsCommand, {
        Filters: [
          { Name: "vpc-id", Values: [event.plan.instances[0].vpcId] },
          { Name: "group-name", Values: ["phoenix-isolation-untrack"] },
        ],
      })
      .resolves({ SecurityGroups: [{ GroupId: "sg-untrack" }] });
    ec2
      .on(DescribeSecurityGroupsCommand, {
        Filters: [
          { Name: "vpc-id", Values: [event.plan.instances[0].vpcId] },
          { Name: "group-name", Values: ["phoenix-isolation"] },
        ],
      })
      .resolves({ SecurityGroups: [{ GroupId: "sg-isolation" }] });
    ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});
    ec2.on(DisassociateAddressCommand).resolves({});
    ec2.on(DisassociateIamInstanceProfileCommand).resolves({});
    await (await importHandler("isolateInstances"))(event, { functionName: "test", awsRequestId: "1" });
    expect(
      ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand).map((call) => call.args[0].input),
    ).toEqual([
      { NetworkInterfaceId: eni, Groups: ["sg-untrack"] },
      { NetworkInterfaceId: eni, Groups: ["sg-isolation"] },
    ]);
    expect(ec2).toHaveReceivedCommandWith(DisassociateAddressCommand, {
      AssociationId: event.plan.instances[0].elasticIps[0].associationId,
    });
    expect(ec2).toHaveReceivedCommandWith(DisassociateIamInstanceProfileCommand, {
      AssociationId: event.plan.instances[0].iamInstanceProfile.associationId,
    });
  });
});
