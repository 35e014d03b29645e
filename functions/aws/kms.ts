// The KMS keys evidence depends on: a snapshot of an encrypted volume is encrypted with the volume's key, and
// can be read (restored to a volume for analysis) only while the key is enabled
// (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html).
import { DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { AwsRequestRejectedError } from "../engine/errors";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const kms = () => clientFor("kms", () => new KMSClient(sdkClientDefaults));

/** A key's state, manager and deletion date; a key Phoenix may not describe says so instead of failing. */
export async function describeKey(
  keyId: string,
): Promise<{ keyId: string; state: string; manager?: string; deletionDate?: string }> {
  try {
    const response = await callAws("DescribeKey", () => kms().send(new DescribeKeyCommand({ KeyId: keyId })));
    const key = response.KeyMetadata;
    return {
      keyId: key?.Arn ?? keyId,
      state: key?.KeyState ?? "Unknown",
      manager: key?.KeyManager,
      deletionDate: key?.DeletionDate?.toISOString(),
    };
  } catch (error) {
    if (!(error instanceof AwsRequestRejectedError)) throw error;
    return { keyId, state: `Unknown (${(error.context as { code?: string }).code ?? "refused"})` };
  }
}
