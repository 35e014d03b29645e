// The optional network ACL containment: a deny-all network ACL per VPC, found by Phoenix's tags and
// reconciled to have no rule (a new network ACL denies everything until rules are added,
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html), and a subnet's association
// moved to it and back. Network ACLs are stateless, so this ends every flow crossing the subnet at once,
// the automatically tracked ones included; it also cuts off every other instance of the subnet.
import {
  CreateNetworkAclCommand,
  DeleteNetworkAclEntryCommand,
  DescribeNetworkAclsCommand,
  EC2Client,
  ReplaceNetworkAclAssociationCommand,
} from "@aws-sdk/client-ec2";
import { EventualConsistencyError, ISOLATION_TAG } from "../engine/containment";
import { AwsRequestRejectedError } from "../engine/errors";
import { MANAGED_TAG } from "../engine/types";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const ec2 = () => clientFor("ec2", () => new EC2Client(sdkClientDefaults));

/** The implicit last rule of every network ACL: it cannot be deleted, and it denies. */
const IMPLICIT_RULE = 32_767;

/** Phoenix's deny-all network ACL of a VPC: found by tag or created, then stripped of any rule. */
export async function ensureIsolationAcl(vpcId: string): Promise<string> {
  const found = await callAws("DescribeNetworkAcls", () =>
    ec2().send(
      new DescribeNetworkAclsCommand({
        Filters: [
          { Name: "vpc-id", Values: [vpcId] },
          { Name: `tag:${ISOLATION_TAG}`, Values: ["network-acl"] },
          { Name: `tag:${MANAGED_TAG}`, Values: ["true"] },
        ],
      }),
    ),
  );
  const existing = found.NetworkAcls?.[0];
  if (!existing) {
    const created = await callAws("CreateNetworkAcl", () =>
      ec2().send(
        new CreateNetworkAclCommand({
          VpcId: vpcId,
          TagSpecifications: [
            {
              ResourceType: "network-acl",
              Tags: [
                { Key: MANAGED_TAG, Value: "true" },
                { Key: ISOLATION_TAG, Value: "network-acl" },
                { Key: "Name", Value: "phoenix-isolation" },
              ],
            },
          ],
        }),
      ),
    );
    return created.NetworkAcl?.NetworkAclId as string;
  }
  for (const entry of (existing.Entries ?? []).filter((item) => item.RuleNumber !== IMPLICIT_RULE)) {
    await callAws("DeleteNetworkAclEntry", () =>
      ec2().send(
        new DeleteNetworkAclEntryCommand({
          NetworkAclId: existing.NetworkAclId,
          RuleNumber: entry.RuleNumber,
          Egress: entry.Egress,
        }),
      ),
    );
  }
  return existing.NetworkAclId as string;
}

/** Moves a subnet's association to a network ACL; returns the new association id. */
export async function replaceAclAssociation(associationId: string, networkAclId: string): Promise<string> {
  try {
    const response = await callAws("ReplaceNetworkAclAssociation", () =>
      ec2().send(
        new ReplaceNetworkAclAssociationCommand({ AssociationId: associationId, NetworkAclId: networkAclId }),
      ),
    );
    return response.NewAssociationId as string;
  } catch (error) {
    if (
      error instanceof AwsRequestRejectedError &&
      (error.context as { code?: string }).code === "InvalidNetworkAclID.NotFound"
    )
      throw new EventualConsistencyError(`network ACL ${networkAclId} not visible yet`, { networkAclId });
    throw error;
  }
}

/** The current network ACL and association of a subnet. */
export async function subnetAcl(
  subnetId: string,
): Promise<{ networkAclId?: string; associationId?: string }> {
  const response = await callAws("DescribeNetworkAcls", () =>
    ec2().send(
      new DescribeNetworkAclsCommand({ Filters: [{ Name: "association.subnet-id", Values: [subnetId] }] }),
    ),
  );
  const association = (response.NetworkAcls ?? [])
    .flatMap((acl) => acl.Associations ?? [])
    .find((item) => item.SubnetId === subnetId);
  return { networkAclId: association?.NetworkAclId, associationId: association?.NetworkAclAssociationId };
}
