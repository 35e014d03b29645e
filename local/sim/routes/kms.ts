// KMS: the keys encrypting evidence volumes, and whether they can still be used.
import { SimAwsError } from "../world";
import { type Route, route } from "./route";

/** DescribeKey: a key's state says whether it can be used (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html). */
export const kmsRoutes: Route[] = [
  route("kms", "DescribeKey", "kms:api", false, (world, input) => {
    const id = String(input.KeyId);
    const key = [...world.kmsKeys.values()].find((item) => item.keyId === id || item.arn === id);
    if (!key) throw new SimAwsError("NotFoundException", `Key '${id}' does not exist`);
    return {
      KeyMetadata: {
        KeyId: key.keyId,
        Arn: key.arn,
        AWSAccountId: world.accountId,
        KeyState: key.state,
        Enabled: key.state === "Enabled",
        KeyManager: key.manager,
        KeyUsage: "ENCRYPT_DECRYPT",
        DeletionDate: key.deletionDate ? new Date(key.deletionDate) : undefined,
      },
    };
  }),
];
