import * as z from "zod";
import { listManagedGroups } from "../aws/autoscaling";
import { AmiIdSchema, ChannelSchema, planImageWaves } from "../engine/images";
import { executionName } from "../engine/names";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const ResolveInputSchema = z.object({
  executionId: z.string().min(1),
  image: z.object({
    imageId: AmiIdSchema,
    channel: ChannelSchema,
    origin: z.string(),
    reference: z.string(),
    soakSeconds: z.number().int().min(0).optional(),
  }),
});

/**
 * Read-only first step of an image rollout: the managed groups on the image's channel, in waves by their
 * phoenix:wave tag, each with the deterministic name of its replacement execution.
 */
async function resolveStep({ image }: z.output<typeof ResolveInputSchema>) {
  const groups = await listManagedGroups(image.channel);
  const { waves, excluded } = planImageWaves(groups, image.channel);
  const rollout = {
    channel: image.channel,
    imageId: image.imageId,
    soakSeconds: image.soakSeconds ?? config().PHOENIX_SOAK_SECONDS,
    waves: waves.map(({ wave, groups: names }) => ({
      wave,
      groups: names.map((groupName) => ({
        groupName,
        // Room for the attempt number the rollout appends ("-1", "-2", ... while the group is busy).
        executionName: executionName.within(76, "img", image.channel, groupName, image.imageId),
      })),
    })),
    excluded,
    groupCount: waves.reduce((sum, wave) => sum + wave.groups.length, 0),
    // How many groups of one wave replace at once: each polls EC2 and Auto Scaling while it runs, and the
    // account's read rate (DescribeInstances, 20 per second) is shared by all of them.
    groupsAtOnce: config().PHOENIX_IMAGE_WAVE_CONCURRENCY,
  };
  logger.info("image rollout resolved", {
    channel: image.channel,
    imageId: image.imageId,
    waves: waves.length,
    excluded,
  });
  return rollout;
}

export const handler = phoenixHandler(ResolveInputSchema, resolveStep);
