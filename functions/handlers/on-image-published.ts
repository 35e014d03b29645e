import type { Context } from "aws-lambda";
import type * as z from "zod";
import { ImagePublishedEventSchema } from "../engine/images";
import { phoenixHandler } from "../runtime/handler";
import { rollOutImage } from "./shared/image-trigger";

/**
 * A pipeline put Phoenix's "Image Published" event (any source; detail: imageId, channel, optional soak):
 * roll the channel onto the image.
 */
async function onImagePublished(event: z.output<typeof ImagePublishedEventSchema>, context: Context) {
  const { imageId, channel, soakSeconds } = event.detail;
  return rollOutImage(
    { imageId, channel, origin: event.source, reference: event.source, soakSeconds },
    event,
    context,
  );
}

export const handler = phoenixHandler(ImagePublishedEventSchema, onImagePublished);
