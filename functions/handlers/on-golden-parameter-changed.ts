import type { Context } from "aws-lambda";
import type * as z from "zod";
import { getParameter } from "../aws/ssm";
import { InvalidInputError } from "../engine/errors";
import {
  AmiIdSchema,
  channelOfParameter,
  ParameterChangeEventSchema,
  type PublishedImage,
} from "../engine/images";
import { parameterChangeIgnored } from "../engine/trust";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { rollOutImage } from "./shared/image-trigger";

type ParameterChanged = z.output<typeof ParameterChangeEventSchema>;

/** The AMI a golden-image parameter now holds, and its channel (the parameter's name under the prefix). */
async function resolveParameter(event: ParameterChanged): Promise<PublishedImage | { ignored: string }> {
  const prefix = config().PHOENIX_GOLDEN_AMI_PREFIX;
  const ignored = parameterChangeIgnored(event.detail);
  if (ignored) return { ignored };
  const channel = channelOfParameter(event.detail.name, prefix);
  if (!channel) return { ignored: `${event.detail.name} is not under ${prefix}` };
  const { value } = await getParameter(event.detail.name);
  const imageId = AmiIdSchema.safeParse(value.trim());
  if (!imageId.success)
    throw new InvalidInputError([
      { path: `parameter ${event.detail.name}`, message: `value "${value}" is not an AMI id` },
    ]);
  return { imageId: imageId.data, channel, origin: "ssm", reference: event.detail.name };
}

/** A golden-AMI parameter in Parameter Store changed: roll its channel onto the AMI it holds. */
async function onGoldenParameterChanged(event: ParameterChanged, context: Context) {
  return rollOutImage(await resolveParameter(event), event, context);
}

export const handler = phoenixHandler(ParameterChangeEventSchema, onGoldenParameterChanged);
