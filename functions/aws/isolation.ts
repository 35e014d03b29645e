// Cutting an instance off, one interface or address at a time: security groups, idle timeouts of
// connection tracking, public IPv4 addresses (Elastic and Amazon's), and the instance profile. Each call
// changes one thing, so a step can say exactly what it changed and put it back.
import {
  AssociateAddressCommand,
  AssociateIamInstanceProfileCommand,
  DescribeIamInstanceProfileAssociationsCommand,
  DisassociateAddressCommand,
  DisassociateIamInstanceProfileCommand,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  ReplaceIamInstanceProfileAssociationCommand,
} from "@aws-sdk/client-ec2";
import type { ConnectionTracking } from "../engine/quarantine";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const ec2 = () => clientFor("ec2", () => new EC2Client(sdkClientDefaults));

/** Sets the security groups of one network interface. */
export async function setInterfaceGroups(networkInterfaceId: string, groupIds: string[]): Promise<void> {
  await callAws("ModifyNetworkInterfaceAttribute", () =>
    ec2().send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: networkInterfaceId,
        Groups: groupIds,
      }),
    ),
  );
}

/** Sets the idle timeouts of connection tracking of one interface (EC2 takes one attribute per call). */
export async function setConnectionTracking(
  networkInterfaceId: string,
  timeouts: ConnectionTracking,
): Promise<void> {
  await callAws("ModifyNetworkInterfaceAttribute", () =>
    ec2().send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: networkInterfaceId,
        ConnectionTrackingSpecification: {
          TcpEstablishedTimeout: timeouts.tcpEstablishedTimeout,
          UdpStreamTimeout: timeouts.udpStreamTimeout,
          UdpTimeout: timeouts.udpTimeout,
        },
      }),
    ),
  );
}

/**
 * Turns the primary interface's public IPv4 address from Amazon's pool off (or on again, at release: a new
 * address). Off before an Elastic IP is disassociated, or AWS gives the interface a new public address
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-instance-addressing.html#concepts-public-addresses).
 */
export async function setPublicIpv4(networkInterfaceId: string, enabled: boolean): Promise<void> {
  await callAws("ModifyNetworkInterfaceAttribute", () =>
    ec2().send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: networkInterfaceId,
        AssociatePublicIpAddress: enabled,
      }),
    ),
  );
}

/** Detaches an Elastic IP from whatever it is associated with (idempotent in EC2). */
export async function disassociateAddress(associationId: string): Promise<void> {
  await callAws("DisassociateAddress", () =>
    ec2().send(new DisassociateAddressCommand({ AssociationId: associationId })),
  );
}

/** Associates an Elastic IP with a network interface again (release). */
export async function associateAddress(allocationId: string, networkInterfaceId: string): Promise<void> {
  await callAws("AssociateAddress", () =>
    ec2().send(
      new AssociateAddressCommand({
        AllocationId: allocationId,
        NetworkInterfaceId: networkInterfaceId,
        AllowReassociation: false,
      }),
    ),
  );
}

/** Removes an instance's profile, or swaps it for an isolation profile when one is given. */
export async function isolateInstanceProfile(
  associationId: string,
  isolationProfileArn?: string,
): Promise<"replaced" | "removed"> {
  if (isolationProfileArn) {
    await callAws("ReplaceIamInstanceProfileAssociation", () =>
      ec2().send(
        new ReplaceIamInstanceProfileAssociationCommand({
          AssociationId: associationId,
          IamInstanceProfile: { Arn: isolationProfileArn },
        }),
      ),
    );
    return "replaced";
  }
  await callAws("DisassociateIamInstanceProfile", () =>
    ec2().send(new DisassociateIamInstanceProfileCommand({ AssociationId: associationId })),
  );
  return "removed";
}

/** Gives an instance back its recorded profile (release): replaces the isolation profile or associates anew. */
export async function restoreInstanceProfile(instanceId: string, profileArn: string): Promise<void> {
  const current = await callAws("DescribeIamInstanceProfileAssociations", () =>
    ec2().send(
      new DescribeIamInstanceProfileAssociationsCommand({
        Filters: [{ Name: "instance-id", Values: [instanceId] }],
      }),
    ),
  );
  const association = current.IamInstanceProfileAssociations?.find((item) => item.State !== "disassociated");
  if (association?.IamInstanceProfile?.Arn === profileArn) return;
  if (association?.AssociationId) {
    await callAws("ReplaceIamInstanceProfileAssociation", () =>
      ec2().send(
        new ReplaceIamInstanceProfileAssociationCommand({
          AssociationId: association.AssociationId,
          IamInstanceProfile: { Arn: profileArn },
        }),
      ),
    );
    return;
  }
  await callAws("AssociateIamInstanceProfile", () =>
    ec2().send(
      new AssociateIamInstanceProfileCommand({
        InstanceId: instanceId,
        IamInstanceProfile: { Arn: profileArn },
      }),
    ),
  );
}
