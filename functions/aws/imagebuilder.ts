import { GetImageCommand, ImagebuilderClient } from "@aws-sdk/client-imagebuilder";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const imageBuilder = () => clientFor("imageBuilder", () => new ImagebuilderClient(sdkClientDefaults));

/** What Phoenix needs from an Image Builder image: its name, tags and the AMI it distributed per region. */
export interface BuiltImage {
  name: string;
  version: string;
  tags: Record<string, string>;
  /** Each AMI the image distributed, with the region and account it is in (one region may hold several). */
  amis: { region: string; imageId: string; accountId?: string }[];
}

/** Reads an Image Builder image by its build version ARN (the `resources[0]` of its state-change event). */
export async function getBuiltImage(imageBuildVersionArn: string): Promise<BuiltImage> {
  const response = await callAws("GetImage", () =>
    imageBuilder().send(new GetImageCommand({ imageBuildVersionArn })),
  );
  const image = response.image;
  return {
    name: image?.name ?? "",
    version: image?.version ?? "",
    tags: image?.tags ?? {},
    amis: (image?.outputResources?.amis ?? []).flatMap((ami) =>
      ami.region && ami.image ? [{ region: ami.region, imageId: ami.image, accountId: ami.accountId }] : [],
    ),
  };
}
