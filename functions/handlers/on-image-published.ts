import type { Context } from "aws-lambda";
import type * as z from "zod";
import { ImagePublishedEventSchema } from "../engine/images";
import { PUBLISHER_SOURCE } from "../engine/trust";
import { phoenixHandler } from "../runtime/handler";
import { rollOutImage } from "./shared/image-trigger";

/**
 * An image pipeline put Phoenix's "Image Published" event on Phoenix's bus (source phoenix.publisher;
 * detail: imageId, channel, optional soak): roll the channel onto the image, if the image passes the policy.
 */
async function onImagePublished(event: z.output<typeof ImagePublishedEventSchema>, context: Context) {
  const { imageId, channel, soakSeconds } = event.detail;
  const image = { imageId, channel, origin: event.source, reference: event.source, soakSeconds };
  // The rule admits only this source; anything else reached the function some other way.
  if (event.source !== PUBLISHER_SOURCE)
    return rollOutImage({ ignored: `source ${event.source} is not ${PUBLISHER_SOURCE}` }, event, context);
  return rollOutImage(image, event, context);
}

export const handler = phoenixHandler(ImagePublishedEventSchema, onImagePublished);
