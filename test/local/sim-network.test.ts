// The simulated AWS behaviours a quarantine meets (each cited to AWS's documentation where it is modelled):
// Spot and instance-store refusals, eventual consistency of new security groups, IPv6 and automatically
// tracked flows, Elastic and public IPs, network ACLs, multi-volume snapshots and KMS keys, and instance-role
// credentials that outlive their profile. If the simulator got these wrong, the quarantine tests would prove
// nothing.
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSnapshotsCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DisassociateAddressCommand,
  type EC2Client,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
  RevokeSecurityGroupIngressCommand,
} from "@aws-sdk/client-ec2";
import { DescribeKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import { describe, expect, it } from "vitest";
import { buildWorld, loadScenario, type Scenario } from "../../local/scenario";
import { createSimClients } from "../../local/sim/clients";
import { credentialHonoured, lastCredentialBeforeRemoval } from "../../local/sim/credentials";
import type { SimConnection } from "../../local/sim/model";
import type { SimWorld } from "../../local/sim/world";

type Cohort = Scenario["groups"][number]["instances"][number];

function account(edit: (scenario: Scenario, cohort: Cohort) => void = () => {}) {
  const scenario = loadScenario("quarantine");
  edit(scenario, scenario.groups[0]?.instances[0] as Cohort);
  const world = buildWorld(scenario);
  const { clients } = createSimClients(world);
  const suspect = world.requireInstance(world.requireGroup("web-prod").instanceIds[0] as string);
  return { world, scenario, suspect, ec2: clients.ec2 as EC2Client, kms: clients.kms as KMSClient };
}

const ALL = (cidr: string) =>
  cidr.includes(":")
    ? { IpProtocol: "-1", Ipv6Ranges: [{ CidrIpv6: cidr }] }
    : { IpProtocol: "-1", IpRanges: [{ CidrIp: cidr }] };

/** A group with the given rules, visible at once. */
function group(world: SimWorld, name: string, ingress: string[], egress: string[]): string {
  const groupId = world.newId("sg");
  world.securityGroups.set(groupId, {
    groupId,
    groupName: name,
    vpcId: world.vpcId,
    description: name,
    ingress: ingress.map((cidr) => ({ protocol: "-1", cidr })),
    egress: egress.map((cidr) => ({ protocol: "-1", cidr })),
    tags: new Map(),
  });
  return groupId;
}

function connect(
  world: SimWorld,
  instanceId: string,
  connection: Partial<SimConnection> & { peer: string },
): SimConnection {
  const instance = world.requireInstance(instanceId);
  const full: SimConnection = {
    id: `c-${instance.connections.length}`,
    port: 443,
    direction: "outbound",
    protocol: "tcp",
    tracked: true,
    open: true,
    ...connection,
  };
  instance.connections.push(full);
  world.reviewConnections(instance);
  return full;
}

describe("what AWS refuses for an instance's kind", () => {
  it("a Spot instance cannot get termination protection", async () => {
    const { ec2, suspect } = account((_, cohort) => {
      cohort.lifecycle = "spot";
    });
    await expect(
      ec2.send(
        new ModifyInstanceAttributeCommand({
          InstanceId: suspect.instanceId,
          DisableApiTermination: { Value: true },
        }),
      ),
    ).rejects.toMatchObject({ name: "UnsupportedOperation" });
    expect(suspect.disableApiTermination).toBe(false);
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [suspect.instanceId] }));
    expect(described.Reservations?.[0]?.Instances?.[0]?.InstanceLifecycle).toBe("spot");
  });

  it("an instance-store root cannot be made to stop on shutdown, and has no EBS root volume", async () => {
    const { ec2, suspect } = account((_, cohort) => {
      cohort.rootDeviceType = "instance-store";
    });
    await expect(
      ec2.send(
        new ModifyInstanceAttributeCommand({
          InstanceId: suspect.instanceId,
          InstanceInitiatedShutdownBehavior: { Value: "stop" },
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterCombination" });
    expect(suspect.shutdownBehavior).toBe("terminate");
    expect(suspect.volumes).toEqual([]);
  });
});

describe("a new security group is eventually consistent", () => {
  it("answers InvalidGroup.NotFound to calls right after CreateSecurityGroup, and is not listed, until it propagates", async () => {
    const { ec2, world } = account((scenario) => {
      scenario.timing = { securityGroupPropagationSeconds: [5, 5] };
    });
    const { GroupId } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: "fresh", Description: "fresh", VpcId: world.vpcId }),
    );
    await expect(
      ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [ALL("0.0.0.0/0")] })),
    ).rejects.toMatchObject({ name: "InvalidGroup.NotFound" });
    const listed = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-name", Values: ["fresh"] }] }),
    );
    expect(listed.SecurityGroups).toEqual([]);
    world.clock.advanceBy(5_000);
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [ALL("0.0.0.0/0")] }));
    // A rule the group already has is refused, as EC2 does; revoking one it lacks is not an error.
    await expect(
      ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [ALL("0.0.0.0/0")] })),
    ).rejects.toMatchObject({ name: "InvalidPermission.Duplicate" });
    const revoked = await ec2.send(
      new RevokeSecurityGroupIngressCommand({ GroupId, IpPermissions: [ALL("::/0")] }),
    );
    expect(revoked.UnknownIpPermissions).toHaveLength(1);
  });
});

describe("connection tracking", () => {
  it("an IPv4-only all-traffic group leaves IPv6 flows tracked, so the isolation group does not end them; ::/0 rules do", () => {
    const { world, suspect } = account();
    const eni = suspect.networkInterfaces[0]?.networkInterfaceId as string;
    const v6 = connect(world, suspect.instanceId, { peer: "[2001:db8::66]:4444", port: 4444 });
    const v4 = connect(world, suspect.instanceId, { peer: "203.0.113.9:4444", port: 4444 });
    const isolation = group(world, "isolation", [], []);
    world.setInterfaceGroups(suspect, eni, [group(world, "v4-only", ["0.0.0.0/0"], ["0.0.0.0/0"])]);
    world.setInterfaceGroups(suspect, eni, [isolation]);
    expect({ v4: v4.open, v6: v6.open }).toEqual({ v4: false, v6: true });
    const again = connect(world, suspect.instanceId, { peer: "[2001:db8::67]:4444", port: 4444 });
    world.setInterfaceGroups(suspect, eni, [
      group(world, "dual", ["0.0.0.0/0", "::/0"], ["0.0.0.0/0", "::/0"]),
    ]);
    world.setInterfaceGroups(suspect, eni, [isolation]);
    expect(again.open).toBe(false);
  });

  it("automatically tracked flows and ICMP survive the two-step swap; an idle one ends after the interface's idle timeout; a network ACL ends all at once", async () => {
    // (Its group must not replace it when it fails health checks under the isolation group.)
    const { world, suspect, ec2 } = account((scenario) => {
      (scenario.groups[0] as Scenario["groups"][number]).suspendedProcesses = ["ReplaceUnhealthy"];
    });
    const eni = suspect.networkInterfaces[0]?.networkInterfaceId as string;
    const busyNlb = connect(world, suspect.instanceId, {
      peer: "10.0.9.9:443",
      direction: "inbound",
      automaticallyTrackedBy: "Network Load Balancer",
    });
    const idleNat = connect(world, suspect.instanceId, {
      peer: "198.51.100.7:443",
      automaticallyTrackedBy: "NAT gateway",
      idleSeconds: 120,
    });
    const ping = connect(world, suspect.instanceId, { peer: "198.51.100.8:0", protocol: "icmp", port: 0 });
    world.setInterfaceGroups(suspect, eni, [
      group(world, "dual", ["0.0.0.0/0", "::/0"], ["0.0.0.0/0", "::/0"]),
    ]);
    world.setInterfaceGroups(suspect, eni, [group(world, "isolation", [], [])]);
    expect([busyNlb.open, idleNat.open, ping.open]).toEqual([true, true, true]);
    // The default TCP idle timeout is five days: an idle flow sending every 2 minutes stays.
    world.clock.advanceBy(600_000);
    expect(idleNat.open).toBe(true);
    await ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: eni,
        ConnectionTrackingSpecification: { TcpEstablishedTimeout: 60, UdpStreamTimeout: 60, UdpTimeout: 30 },
      }),
    );
    await expect(
      ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eni,
          ConnectionTrackingSpecification: { TcpEstablishedTimeout: 30 },
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterValue" });
    world.clock.advanceBy(61_000);
    expect([busyNlb.open, idleNat.open, ping.open]).toEqual([true, false, true]);
    const acl = world.newId("acl");
    world.networkAcls.set(acl, {
      networkAclId: acl,
      vpcId: world.vpcId,
      isDefault: false,
      entries: [],
      tags: new Map(),
    });
    world.replaceNetworkAclAssociation(
      world.subnets.get(suspect.subnetId)?.networkAclAssociation.associationId as string,
      acl,
    );
    expect([busyNlb.open, ping.open]).toEqual([false, false]);
  });
});

describe("public addresses", () => {
  it("disassociating an Elastic IP gives an interface that gets public IPs a new one, unless the attribute is off first", async () => {
    const { world, suspect, ec2 } = account((_, cohort) => {
      cohort.publicIp = true;
    });
    const eni = suspect.networkInterfaces[0];
    expect(eni?.association?.publicIp).toBe("198.51.100.23");
    expect(eni?.publicIp).toBeUndefined();
    await ec2.send(new DisassociateAddressCommand({ AssociationId: eni?.association?.associationId }));
    expect(eni?.publicIp).toMatch(/^54\./);
    await ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: eni?.networkInterfaceId,
        AssociatePublicIpAddress: false,
      }),
    );
    expect(eni?.publicIp).toBeUndefined();
    expect(
      world
        .openPaths(suspect)
        .map((item) => item.path)
        .join("\n"),
    ).not.toMatch(/public IPv4/);
    // One attribute per call, as EC2 requires.
    await expect(
      ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eni?.networkInterfaceId,
          AssociatePublicIpAddress: true,
          Groups: [],
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterCombination" });
  });
});

describe("evidence", () => {
  it("CreateSnapshots takes every EBS volume of an instance in one crash-consistent set, each encrypted with its volume's key", async () => {
    const { world, suspect, ec2, kms } = account((scenario, cohort) => {
      scenario.kmsKeys = [
        { alias: "alias/app", state: "Enabled" },
        { alias: "alias/old", state: "PendingDeletion" },
      ];
      cohort.rootKmsKey = "alias/app";
      cohort.dataVolumes = [
        { deviceName: "/dev/sdf", sizeGiB: 100, kmsKey: "alias/app" },
        { deviceName: "/dev/sdg", sizeGiB: 20, kmsKey: "alias/old" },
      ];
    });
    const { Snapshots } = await ec2.send(
      new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: suspect.instanceId } }),
    );
    expect(Snapshots?.map((item) => item.VolumeId)).toEqual(suspect.volumes.map((volume) => volume.volumeId));
    const taken = Snapshots?.map((item) => world.snapshots.get(item.SnapshotId as string));
    expect(new Set(taken?.map((item) => item?.snapshotSet)).size).toBe(1);
    expect(new Set(taken?.map((item) => item?.startTime)).size).toBe(1);
    expect(taken?.map((item) => item?.kmsKeyId)).toEqual(suspect.volumes.map((volume) => volume.kmsKeyId));
    const old = await kms.send(new DescribeKeyCommand({ KeyId: suspect.volumes[2]?.kmsKeyId }));
    expect(old.KeyMetadata).toMatchObject({
      KeyState: "PendingDeletion",
      KeyManager: "CUSTOMER",
      Enabled: false,
    });
  });
});

describe("instance-role credentials", () => {
  it("outlive the profile; a deny conditioned on the token's issue time and the instance ends them, and only them", async () => {
    const { world, suspect } = account();
    const neighbour = world.requireInstance(world.requireGroup("web-prod").instanceIds[1] as string);
    world.clock.advanceBy(90 * 60_000);
    world.endProfile(suspect);
    const stolen = lastCredentialBeforeRemoval(world, suspect);
    expect(stolen).toBeDefined();
    if (!stolen) return;
    expect(await credentialHonoured(world, stolen, world.clock.now())).toMatchObject({ honoured: true });
    const role = world.roles.get("web-app");
    const instanceArn = `arn:aws:ec2:${world.region}:${world.accountId}:instance/${suspect.instanceId}`;
    role?.inlinePolicies.set(
      "deny-suspect",
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Deny",
            Action: "*",
            Resource: "*",
            Condition: {
              StringEquals: { "ec2:SourceInstanceARN": instanceArn },
              DateLessThan: { "aws:TokenIssueTime": new Date(world.clock.now()).toISOString() },
            },
          },
        ],
      }),
    );
    expect(await credentialHonoured(world, stolen, world.clock.now())).toMatchObject({
      honoured: false,
      why: "ExplicitlyDenied",
    });
    const theirs = lastCredentialBeforeRemoval(world, neighbour);
    expect(theirs && (await credentialHonoured(world, theirs, world.clock.now()))).toMatchObject({
      honoured: true,
    });
    // Without the deny, the stolen set would have lasted until it expired.
    role?.inlinePolicies.clear();
    expect(await credentialHonoured(world, stolen, stolen.issuedAt + 6 * 3_600_000)).toMatchObject({
      honoured: false,
      why: "expired",
    });
  });
});
