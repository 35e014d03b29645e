// What EC2 says about an AMI, for the image provenance policy (functions/engine/provenance.ts). Its own file,
// so that only the functions that judge images carry DescribeImages.
import { DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import type { ImageFacts } from "../engine/provenance";
import { clientFor, sdkClientDefaults } from "./clients";
import { translateAwsError } from "./errors";

const ec2 = () => clientFor("ec2", () => new EC2Client(sdkClientDefaults));

// EC2 answers an id it does not know (or may not show this account) with these codes.
const UNKNOWN_IMAGE = new Set([
  "InvalidAMIID.NotFound",
  "InvalidAMIID.Unavailable",
  "InvalidAMIID.Malformed",
]);

/**
 * The AMI as EC2 describes it in this account and region, deprecated and disabled ones included so the
 * policy can name why it refuses them; undefined when EC2 does not know it.
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImages.html
 */
export async function describeImage(imageId: string): Promise<ImageFacts | undefined> {
  try {
    const response = await ec2().send(
      new DescribeImagesCommand({ ImageIds: [imageId], IncludeDeprecated: true, IncludeDisabled: true }),
    );
    const image = response.Images?.find((item) => item.ImageId === imageId);
    if (!image) return undefined;
    return {
      imageId,
      ownerId: image.OwnerId ?? "",
      state: image.State ?? "unknown",
      creationDate: image.CreationDate,
      deprecationTime: image.DeprecationTime,
      tags: Object.fromEntries((image.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
    };
  } catch (error) {
    if (UNKNOWN_IMAGE.has((error as { name?: string }).name ?? "")) return undefined;
    throw translateAwsError(error, "DescribeImages");
  }
}
