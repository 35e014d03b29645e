// The containment and evidence adapters, with aws-sdk-client-mock: the exact commands, in the order that
// matters (no public address before any rule opens; the all-traffic group before the isolation group, put
// back if the second fails), isolation groups found by tag and reconciled to exactly their rules, AWS's
// refusals for an instance's kind told apart from failures.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AutoScalingClient, SuspendProcessesCommand } from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSecurityGroupsCommand,
  DescribeVolumesCommand,
  DisassociateAddressCommand,
  DisassociateIamInstanceProfileCommand,
  EC2Client,
  EC2ServiceException,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { resetCreatedClients, useClients } from "../../functions/aws/clients";
import { protectInstance } from "../../functions/aws/evidence";
import { ensureIsolationGroups } from "../../functions/aws/isolation-groups";
import { EventualConsistencyError } from "../../functions/engine/containment";
import { REPO_ROOT } from "../../local/stack";
import { importHandler } from "../../local/state-machine";

const ec2 = mockClient(EC2Client);
const dynamodb = mockClient(DynamoDBClient);
const autoScaling = mockClient(AutoScalingClient);
beforeEach(() => {
  useClients({});
  resetCreatedClients();
  ec2.reset();
  dynamodb.reset();
  autoScaling.reset();
  autoScaling.on(SuspendProcessesCommand).resolves({});
});

const awsError = (name: string) =>
  new EC2ServiceException({ name, $fault: "client", $metadata: { httpStatusCode: 400 }, message: name });

const V4 = { IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] };
const V6 = { IpProtocol: "-1", Ipv6Ranges: [{ CidrIpv6: "::/0" }] };
const byTag = (role: string, vpcId = "vpc-1") => ({
  Filters: [
    { Name: "vpc-id", Values: [vpcId] },
    { Name: "tag:phoenix:isolation", Values: [role] },
    { Name: "tag:phoenix:managed", Values: ["true"] },
  ],
});

describe("isolation groups", () => {
  it("creates, tagged by role, an all-traffic group (IPv4 and IPv6, in and out) and a group with no rules at all", async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2
      .on(CreateSecurityGroupCommand, { GroupName: "phoenix-isolation-untrack" })
      .resolves({ GroupId: "sg-untrack" });
    ec2
      .on(CreateSecurityGroupCommand, { GroupName: "phoenix-isolation" })
      .resolves({ GroupId: "sg-isolation" });
    // As EC2 creates them: nothing in, all IPv4 out.
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-untrack"] }).resolves({
      SecurityGroups: [{ GroupId: "sg-untrack", IpPermissions: [], IpPermissionsEgress: [V4] }],
    });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-isolation"] }).resolves({
      SecurityGroups: [{ GroupId: "sg-isolation", IpPermissions: [], IpPermissionsEgress: [V4] }],
    });
    expect(await ensureIsolationGroups("vpc-1")).toEqual({
      untrackGroupId: "sg-untrack",
      isolationGroupId: "sg-isolation",
      repairedRules: 0,
    });
    expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupsCommand, byTag("untrack"));
    expect(ec2).toHaveReceivedCommandWith(CreateSecurityGroupCommand, {
      GroupName: "phoenix-isolation",
      VpcId: "vpc-1",
      TagSpecifications: [
        {
          ResourceType: "security-group",
          Tags: [
            { Key: "phoenix:managed", Value: "true" },
            { Key: "phoenix:isolation", Value: "isolate" },
          ],
        },
      ],
    });
    expect(ec2).toHaveReceivedCommandWith(AuthorizeSecurityGroupIngressCommand, {
      GroupId: "sg-untrack",
      IpPermissions: [V4, V6],
    });
    expect(ec2).toHaveReceivedCommandWith(AuthorizeSecurityGroupEgressCommand, {
      GroupId: "sg-untrack",
      IpPermissions: [V6],
    });
    expect(ec2).toHaveReceivedCommandWith(RevokeSecurityGroupEgressCommand, {
      GroupId: "sg-isolation",
      IpPermissions: [V4],
    });
    expect(ec2).not.toHaveReceivedCommandWith(RevokeSecurityGroupEgressCommand, { GroupId: "sg-untrack" });
  });

  it("repairs a half-made isolation group found by tag: every rule it has goes, references to other groups included", async () => {
    ec2
      .on(DescribeSecurityGroupsCommand, byTag("untrack"))
      .resolves({ SecurityGroups: [{ GroupId: "sg-untrack" }] });
    ec2
      .on(DescribeSecurityGroupsCommand, byTag("isolate"))
      .resolves({ SecurityGroups: [{ GroupId: "sg-isolation" }] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-untrack"] }).resolves({
      SecurityGroups: [{ GroupId: "sg-untrack", IpPermissions: [V4, V6], IpPermissionsEgress: [V4, V6] }],
    });
    const reference = {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      UserIdGroupPairs: [{ GroupId: "sg-admin" }],
    };
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-isolation"] }).resolves({
      SecurityGroups: [{ GroupId: "sg-isolation", IpPermissions: [reference], IpPermissionsEgress: [V4] }],
    });
    expect(await ensureIsolationGroups("vpc-1")).toMatchObject({ repairedRules: 2 });
    expect(ec2).not.toHaveReceivedCommand(CreateSecurityGroupCommand);
    expect(ec2).toHaveReceivedCommandWith(RevokeSecurityGroupIngressCommand, {
      GroupId: "sg-isolation",
      IpPermissions: [reference],
    });
    expect(ec2).toHaveReceivedCommandWith(RevokeSecurityGroupEgressCommand, {
      GroupId: "sg-isolation",
      IpPermissions: [V4],
    });
    expect(ec2).not.toHaveReceivedCommand(AuthorizeSecurityGroupIngressCommand);
  });

  it("puts right a group an earlier attempt created but failed to set up (a throttled call): both found by tag, neither created again", async () => {
    // The untrack group has no inbound rule yet and only EC2's default outbound rule; the isolation group
    // still has that default outbound rule too.
    ec2
      .on(DescribeSecurityGroupsCommand, byTag("untrack"))
      .resolves({ SecurityGroups: [{ GroupId: "sg-untrack" }] });
    ec2
      .on(DescribeSecurityGroupsCommand, byTag("isolate"))
      .resolves({ SecurityGroups: [{ GroupId: "sg-isolation" }] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-untrack"] }).resolves({
      SecurityGroups: [{ GroupId: "sg-untrack", IpPermissions: [], IpPermissionsEgress: [V4] }],
    });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-isolation"] }).resolves({
      SecurityGroups: [{ GroupId: "sg-isolation", IpPermissions: [], IpPermissionsEgress: [V4] }],
    });
    await ensureIsolationGroups("vpc-1");
    expect(ec2).not.toHaveReceivedCommand(CreateSecurityGroupCommand);
    expect(ec2).toHaveReceivedCommandWith(AuthorizeSecurityGroupIngressCommand, {
      GroupId: "sg-untrack",
      IpPermissions: [V4, V6],
    });
    expect(ec2).toHaveReceivedCommandWith(AuthorizeSecurityGroupEgressCommand, {
      GroupId: "sg-untrack",
      IpPermissions: [V6],
    });
    expect(ec2).toHaveReceivedCommandWith(RevokeSecurityGroupEgressCommand, {
      GroupId: "sg-isolation",
      IpPermissions: [V4],
    });
  });

  it("says a group just created is not visible yet (eventual consistency) rather than failing, for the state machine to retry", async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: "sg-new" });
    ec2
      .on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-new"] })
      .rejects(awsError("InvalidGroup.NotFound"));
    await expect(ensureIsolationGroups("vpc-1")).rejects.toBeInstanceOf(EventualConsistencyError);
    // A retry whose find by tag still misses it meets the name taken: also eventual consistency.
    ec2.reset();
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2.on(CreateSecurityGroupCommand).rejects(awsError("InvalidGroup.Duplicate"));
    await expect(ensureIsolationGroups("vpc-1")).rejects.toMatchObject({ name: "EventualConsistencyError" });
  });

  it("never adopts a group that only has the name: an untagged phoenix-isolation makes Phoenix create phoenix-isolation-2", async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2
      .on(DescribeSecurityGroupsCommand, {
        Filters: [
          { Name: "vpc-id", Values: ["vpc-1"] },
          { Name: "group-name", Values: ["phoenix-isolation-untrack"] },
        ],
      })
      .resolves({ SecurityGroups: [{ GroupId: "sg-someone", Tags: [] }] });
    ec2
      .on(CreateSecurityGroupCommand, { GroupName: "phoenix-isolation-untrack" })
      .rejects(awsError("InvalidGroup.Duplicate"));
    ec2
      .on(CreateSecurityGroupCommand, { GroupName: "phoenix-isolation-untrack-2" })
      .resolves({ GroupId: "sg-untrack" });
    ec2
      .on(CreateSecurityGroupCommand, { GroupName: "phoenix-isolation" })
      .resolves({ GroupId: "sg-isolation" });
    ec2
      .on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-untrack"] })
      .resolves({ SecurityGroups: [{ GroupId: "sg-untrack" }] });
    ec2
      .on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-isolation"] })
      .resolves({ SecurityGroups: [{ GroupId: "sg-isolation" }] });
    expect(await ensureIsolationGroups("vpc-1")).toMatchObject({ untrackGroupId: "sg-untrack" });
  });
});

describe("preservation", () => {
  it("asks for one protection per call, and returns AWS's refusal instead of throwing", async () => {
    ec2.on(ModifyInstanceAttributeCommand).resolves({});
    await protectInstance("i-0123456789abcdef0", "keep-volumes", ["/dev/xvda", "/dev/sdf"]);
    expect(ec2.commandCalls(ModifyInstanceAttributeCommand).map((call) => call.args[0].input)).toEqual([
      {
        InstanceId: "i-0123456789abcdef0",
        BlockDeviceMappings: [
          { DeviceName: "/dev/xvda", Ebs: { DeleteOnTermination: false } },
          { DeviceName: "/dev/sdf", Ebs: { DeleteOnTermination: false } },
        ],
      },
    ]);
    ec2.on(ModifyInstanceAttributeCommand).rejects(awsError("UnsupportedOperation"));
    expect(await protectInstance("i-0123456789abcdef0", "termination-protection", [])).toMatchObject({
      refused: { code: "UnsupportedOperation" },
    });
    // Throttling is not a refusal: the state machine retries it.
    ec2.on(ModifyInstanceAttributeCommand).rejects(awsError("RequestLimitExceeded"));
    await expect(protectInstance("i-0123456789abcdef0", "shutdown-stops", [])).rejects.toMatchObject({
      name: "ThrottledError",
    });
  });
});

describe("the isolate step", () => {
  const event = JSON.parse(
    readFileSync(join(REPO_ROOT, "events", "quarantine", "isolateInstances.Isolate.json"), "utf8"),
  );
  const instance = event.plan.instances[0];
  const eni = instance.networkInterfaces[0].networkInterfaceId;
  const context = { functionName: "test", awsRequestId: "1" };

  function described() {
    ec2
      .on(DescribeSecurityGroupsCommand, byTag("untrack", instance.vpcId))
      .resolves({ SecurityGroups: [{ GroupId: "sg-untrack" }] });
    ec2
      .on(DescribeSecurityGroupsCommand, byTag("isolate", instance.vpcId))
      .resolves({ SecurityGroups: [{ GroupId: "sg-isolation" }] });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-untrack"] }).resolves({
      SecurityGroups: [{ GroupId: "sg-untrack", IpPermissions: [V4, V6], IpPermissionsEgress: [V4, V6] }],
    });
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ["sg-isolation"] }).resolves({
      SecurityGroups: [{ GroupId: "sg-isolation", IpPermissions: [], IpPermissionsEgress: [] }],
    });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: instance.instanceId,
              VpcId: instance.vpcId,
              NetworkInterfaces: [
                {
                  NetworkInterfaceId: eni,
                  Attachment: { DeviceIndex: 0 },
                  Groups: [{ GroupId: instance.networkInterfaces[0].groups[0] }],
                  Association: { PublicIp: "198.51.100.23", IpOwnerId: "123456789012" },
                },
              ],
              IamInstanceProfile: { Arn: instance.iamInstanceProfile.arn },
            },
          ],
        },
      ],
    });
    ec2.on(DescribeAddressesCommand).resolves({
      Addresses: [
        {
          ...instance.elasticIps[0],
          AllocationId: "eipalloc-1",
          AssociationId: "eipassoc-1",
          InstanceId: instance.instanceId,
          PublicIp: "198.51.100.23",
        },
      ],
    });
    ec2.on(DescribeIamInstanceProfileAssociationsCommand).resolves({
      IamInstanceProfileAssociations: [
        { InstanceId: instance.instanceId, AssociationId: "iip-1", State: "associated" },
      ],
    });
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [] });
    ec2.on(DescribeInstanceTypesCommand).resolves({ InstanceTypes: [] });
    ec2.on(DisassociateAddressCommand).resolves({});
    ec2.on(DisassociateIamInstanceProfileCommand).resolves({});
    ec2.on(CreateTagsCommand).resolves({});
    dynamodb.on(GetItemCommand).resolves({});
    dynamodb.on(PutItemCommand).resolves({});
  }

  it("tags the suspect and pauses its group's ReplaceUnhealthy first, then takes the public address off, then all-traffic group, then the isolation group, then the profile", async () => {
    described();
    const networkChangesBeforePause: number[] = [];
    autoScaling.on(SuspendProcessesCommand).callsFake(() => {
      networkChangesBeforePause.push(ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand).length);
      return {};
    });
    ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});
    await (await importHandler("isolateInstances"))(event, context);
    const order = ec2.calls().map((call) => {
      const input = call.args[0].input as Record<string, unknown>;
      const name = call.args[0].constructor.name.replace(/Command$/, "");
      return name === "ModifyNetworkInterfaceAttribute"
        ? `${name} ${Object.keys(input)
            .filter((key) => key !== "NetworkInterfaceId")
            .join()} ${JSON.stringify(input.Groups ?? "")}`
        : name;
    });
    const mutating = order.filter((name) => !name.startsWith("Describe"));
    // Before any of these, the group may no longer replace the suspect when it fails its health checks.
    expect(autoScaling).toHaveReceivedCommandWith(SuspendProcessesCommand, {
      AutoScalingGroupName: event.plan.group.groupName,
      ScalingProcesses: ["ReplaceUnhealthy", "AZRebalance"],
    });
    expect(networkChangesBeforePause).toEqual([0]);
    expect(mutating).toEqual([
      "CreateTags",
      'ModifyNetworkInterfaceAttribute AssociatePublicIpAddress ""',
      "DisassociateAddress",
      'ModifyNetworkInterfaceAttribute ConnectionTrackingSpecification ""',
      'ModifyNetworkInterfaceAttribute Groups ["sg-untrack"]',
      'ModifyNetworkInterfaceAttribute Groups ["sg-isolation"]',
      "DisassociateIamInstanceProfile",
    ]);
    expect(ec2).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: eni,
      ConnectionTrackingSpecification: { TcpEstablishedTimeout: 60, UdpStreamTimeout: 60, UdpTimeout: 30 },
    });
    expect(ec2).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: eni,
      AssociatePublicIpAddress: false,
    });
  });

  it("puts the interface's own groups back when the isolation group cannot go on, and fails: never left in the all-traffic group", async () => {
    described();
    ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});
    ec2
      .on(ModifyNetworkInterfaceAttributeCommand, { NetworkInterfaceId: eni, Groups: ["sg-isolation"] })
      .rejects(awsError("RequestLimitExceeded"));
    await expect((await importHandler("isolateInstances"))(event, context)).rejects.toMatchObject({
      name: "ThrottledError",
    });
    const groupChanges = ec2
      .commandCalls(ModifyNetworkInterfaceAttributeCommand)
      .map((call) => call.args[0].input.Groups)
      .filter(Boolean);
    expect(groupChanges).toEqual([["sg-untrack"], ["sg-isolation"], instance.networkInterfaces[0].groups]);
    expect(ec2).not.toHaveReceivedCommand(DisassociateIamInstanceProfileCommand);
  });
});
