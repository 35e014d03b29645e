import type { Context } from "aws-lambda";
import type * as z from "zod";
import { getBuiltImage } from "../aws/imagebuilder";
import { InvalidInputError } from "../engine/errors";
import { channelOfBuiltImage, ImageBuilderEventSchema, type PublishedImage } from "../engine/images";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { stackAccount } from "../runtime/stack";
import { rollOutImage } from "./shared/image-trigger";

type ImageBuilt = z.output<typeof ImageBuilderEventSchema>;

/**
 * The AMI an available Image Builder image made in this account and region, and its channel (from the
 * image's name or tag). Image Builder can distribute one image to several accounts of a region: only this
 * account's AMI is ours to roll.
 */
async function resolveBuiltImage(event: ImageBuilt): Promise<PublishedImage | { ignored: string }> {
  const region = config().AWS_REGION;
  const account = stackAccount();
  if (event.detail.state.status !== "AVAILABLE")
    return { ignored: `image state is ${event.detail.state.status}` };
  const arn = event.resources[0] as string;
  const built = await getBuiltImage(arn);
  const ami = built.amis.find((item) => item.region === region && item.accountId === account);
  if (!ami) return { ignored: `image ${arn} has no AMI in account ${account} in ${region}` };
  const channel = channelOfBuiltImage(built.name, built.tags);
  if (!channel)
    throw new InvalidInputError([
      {
        path: "image.name",
        message: `"${built.name}" is not a channel name; tag the image phoenix:image-channel`,
      },
    ]);
  return { imageId: ami.imageId, channel, origin: "imagebuilder", reference: arn };
}

/** EC2 Image Builder finished an image: roll its channel onto the AMI it made here. */
async function onImageBuilt(event: ImageBuilt, context: Context) {
  return rollOutImage(await resolveBuiltImage(event), event, context);
}

export const handler = phoenixHandler(ImageBuilderEventSchema, onImageBuilt);
