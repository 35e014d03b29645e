// IAM: instance profiles and their roles, and the roles' inline policies (where a quarantine puts its
// deny on the suspect's sessions).
import { SimAwsError, type SimWorld } from "../world";
import { type Route, route } from "./route";

/** Inline policies of one role may hold this many characters in all (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). */
const ROLE_INLINE_POLICY_CHARACTERS = 10_240;

function requireRole(world: SimWorld, roleName: string) {
  const role = world.roles.get(roleName);
  if (!role) throw new SimAwsError("NoSuchEntity", `The role with name ${roleName} cannot be found.`, 404);
  return role;
}

/** Instance profile and role policy operations. */
export const iamRoutes: Route[] = [
  route("iam", "GetInstanceProfile", "iam:api", false, (world, input) => {
    const arn = `arn:aws:iam::${world.accountId}:instance-profile/${input.InstanceProfileName}`;
    if (!world.instanceProfiles.has(arn))
      throw new SimAwsError(
        "NoSuchEntity",
        `Instance Profile ${input.InstanceProfileName} cannot be found.`,
        404,
      );
    const roleName = world.instanceProfileRoles.get(arn);
    const role = roleName ? world.roles.get(roleName) : undefined;
    return {
      InstanceProfile: {
        InstanceProfileName: input.InstanceProfileName,
        Arn: arn,
        Path: "/",
        InstanceProfileId: `AIPA${input.InstanceProfileName.toUpperCase().padEnd(17, "X").slice(0, 17)}`,
        CreateDate: new Date(0),
        Roles: role
          ? [
              {
                RoleName: role.roleName,
                Arn: role.arn,
                Path: "/",
                RoleId: `AROA${role.roleName.toUpperCase().padEnd(17, "X").slice(0, 17)}`,
                CreateDate: new Date(0),
              },
            ]
          : [],
      },
    };
  }),
  route("iam", "PutRolePolicy", "iam:api", true, (world, input) => {
    const role = requireRole(world, input.RoleName);
    try {
      JSON.parse(input.PolicyDocument);
    } catch {
      throw new SimAwsError("MalformedPolicyDocument", "Syntax errors in policy.");
    }
    const total = [...role.inlinePolicies]
      .filter(([name]) => name !== input.PolicyName)
      .reduce((sum, [, document]) => sum + document.replace(/\s/g, "").length, 0);
    if (total + input.PolicyDocument.replace(/\s/g, "").length > ROLE_INLINE_POLICY_CHARACTERS)
      throw new SimAwsError(
        "LimitExceeded",
        `Maximum policy size of ${ROLE_INLINE_POLICY_CHARACTERS} bytes exceeded for role ${role.roleName}`,
        409,
      );
    role.inlinePolicies.set(input.PolicyName, input.PolicyDocument);
    world.record({
      kind: "role-policy-changed",
      message: `role ${role.roleName}: inline policy ${input.PolicyName} put`,
    });
    return {};
  }),
  route("iam", "GetRolePolicy", "iam:api", false, (world, input) => {
    const role = requireRole(world, input.RoleName);
    const document = role.inlinePolicies.get(input.PolicyName);
    if (document === undefined)
      throw new SimAwsError(
        "NoSuchEntity",
        `The role policy with name ${input.PolicyName} cannot be found.`,
        404,
      );
    // IAM answers policy documents URL-encoded.
    return {
      RoleName: role.roleName,
      PolicyName: input.PolicyName,
      PolicyDocument: encodeURIComponent(document),
    };
  }),
  route("iam", "DeleteRolePolicy", "iam:api", true, (world, input) => {
    const role = requireRole(world, input.RoleName);
    if (!role.inlinePolicies.delete(input.PolicyName))
      throw new SimAwsError(
        "NoSuchEntity",
        `The role policy with name ${input.PolicyName} cannot be found.`,
        404,
      );
    world.record({
      kind: "role-policy-changed",
      message: `role ${role.roleName}: inline policy ${input.PolicyName} deleted`,
    });
    return {};
  }),
];
