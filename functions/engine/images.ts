// The three ways a new golden image is announced, normalized to one shape, and which groups roll onto it in
// which order.
import * as z from "zod";
import { PhoenixError } from "./errors";
import { type GroupSnapshot, MANAGED_TAG } from "./types";

/** Tag naming the golden-image channel a group follows. */
export const CHANNEL_TAG = "phoenix:image-channel";
/** Tag giving a group's rollout wave within its channel (0 rolls first). */
export const WAVE_TAG = "phoenix:wave";

export const AmiIdSchema = z.string().regex(/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, "not an AMI id");
export const ChannelSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only");

const envelope = {
  id: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  region: z.string().optional(),
};

/** EC2 Image Builder's "Image State Change" event; the image ARN is resources[0]. */
export const ImageBuilderEventSchema = z
  .object({
    ...envelope,
    source: z.literal("aws.imagebuilder"),
    "detail-type": z.literal("EC2 Image Builder Image State Change"),
    resources: z.array(z.string().startsWith("arn:aws:imagebuilder:")).min(1),
    detail: z.object({ state: z.object({ status: z.string() }).loose() }).loose(),
  })
  .loose();

/** Parameter Store's change event for a golden-AMI parameter (the value is read with GetParameter). */
export const ParameterChangeEventSchema = z
  .object({
    ...envelope,
    source: z.literal("aws.ssm"),
    "detail-type": z.literal("Parameter Store Change"),
    detail: z.object({ name: z.string().startsWith("/"), operation: z.string() }).loose(),
  })
  .loose();

/**
 * Phoenix's own "Image Published" event, which image pipelines put on Phoenix's bus:
 * { "source": "phoenix.publisher", "detail-type": "Image Published", "detail": { "imageId": "ami-...", "channel": "web" } }
 */
export const ImagePublishedEventSchema = z
  .object({
    ...envelope,
    source: z.string().min(1),
    "detail-type": z.literal("Image Published"),
    detail: z
      .object({
        imageId: AmiIdSchema,
        channel: ChannelSchema,
        /** Overrides the stack's soak time for this image. */
        soakSeconds: z.number().int().min(0).max(604_800).optional(),
        releaseNotes: z.string().max(2048).optional(),
      })
      .strict(),
  })
  .loose();

/** A published image, whatever announced it. */
export interface PublishedImage {
  imageId: string;
  channel: string;
  /** "imagebuilder", "ssm" or the source of an Image Published event. */
  origin: string;
  /** The Image Builder image ARN, the parameter name, or the publisher's source. */
  reference: string;
  soakSeconds?: number;
}

/** The newest image of a channel (by EC2's creation time): what every group of the channel should end up running. */
export interface ChannelHead {
  channel: string;
  imageId: string;
  /** The image's CreationDate in EC2 (ISO 8601 UTC), never a time an event claims. */
  createdAt: string;
}

/** Key of a channel's head in the Phoenix table. */
export const channelHeadKey = (channel: string) => `channel#${channel}`;

/** An image rollout met a newer image on its channel: it stops, and the newer one rolls instead. */
export class ImageSupersededError extends PhoenixError {
  override name = "ImageSupersededError";
}

/** The channel a golden-AMI parameter feeds: the path segment after the prefix (/phoenix/golden-ami/web -> web). */
export function channelOfParameter(name: string, prefix: string): string | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const channel = name.slice(prefix.length).split("/")[0] ?? "";
  return ChannelSchema.safeParse(channel).success ? channel : undefined;
}

/** The channel of an Image Builder image: its phoenix:image-channel tag, else its name. */
export function channelOfBuiltImage(name: string, tags: Record<string, string>): string | undefined {
  const channel = tags[CHANNEL_TAG] ?? name;
  return ChannelSchema.safeParse(channel).success ? channel : undefined;
}

/** One group's place in an image rollout. */
export interface RolloutGroup {
  groupName: string;
  wave: number;
}

/** The groups of a channel in waves (phoenix:wave, 0 first), and the groups left out with the reason. */
export function planImageWaves(
  groups: GroupSnapshot[],
  channel: string,
): { waves: { wave: number; groups: string[] }[]; excluded: { groupName: string; why: string }[] } {
  const excluded: { groupName: string; why: string }[] = [];
  const placed: RolloutGroup[] = [];
  for (const group of groups) {
    if (group.tags[MANAGED_TAG] !== "true" || group.tags[CHANNEL_TAG] !== channel) continue;
    const waveTag = group.tags[WAVE_TAG] ?? "0";
    if (!/^\d{1,3}$/.test(waveTag)) {
      // Fail closed: a group whose wave is unclear must not roll early.
      excluded.push({ groupName: group.groupName, why: `${WAVE_TAG} "${waveTag}" is not a whole number` });
      continue;
    }
    placed.push({ groupName: group.groupName, wave: Number(waveTag) });
  }
  const waves = [...new Set(placed.map((group) => group.wave))]
    .sort((a, b) => a - b)
    .map((wave) => ({
      wave,
      groups: placed
        .filter((group) => group.wave === wave)
        .map((group) => group.groupName)
        .sort(),
    }));
  return { waves, excluded };
}
