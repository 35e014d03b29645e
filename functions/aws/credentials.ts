// Ending credentials already issued to a suspect: its role gets an inline deny for sessions of this instance
// issued before containment (ec2:SourceInstanceARN, aws:TokenIssueTime); release deletes it. Removing the
// instance profile only stops new credentials
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).
import {
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  IAMClient,
  PutRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { AwsRequestRejectedError } from "../engine/errors";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const iam = () => clientFor("iam", () => new IAMClient(sdkClientDefaults));

/** The role of an instance profile, by the profile's name. */
export async function roleOfInstanceProfile(profileName: string): Promise<string | undefined> {
  const response = await callAws("GetInstanceProfile", () =>
    iam().send(new GetInstanceProfileCommand({ InstanceProfileName: profileName })),
  );
  return response.InstanceProfile?.Roles?.[0]?.RoleName;
}

/** Puts (or replaces) an inline policy on a role. */
export async function putRolePolicy(roleName: string, policyName: string, document: string): Promise<void> {
  await callAws("PutRolePolicy", () =>
    iam().send(
      new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: document }),
    ),
  );
}

/** Deletes an inline policy of a role; one already gone is fine. */
export async function deleteRolePolicy(roleName: string, policyName: string): Promise<void> {
  try {
    await callAws("DeleteRolePolicy", () =>
      iam().send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })),
    );
  } catch (error) {
    if (
      error instanceof AwsRequestRejectedError &&
      (error.context as { code?: string }).code === "NoSuchEntity"
    )
      return;
    throw error;
  }
}
