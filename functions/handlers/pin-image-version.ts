import type * as z from "zod";
import { readChannelHead } from "../aws/channels";
import { ensureImageVersion, resolveLaunchTemplateVersion } from "../aws/ec2";
import { publishEvent } from "../aws/events";
import { readGroup } from "../aws/fleet";
import { describeImage } from "../aws/images";
import { LaunchTemplateVersionNotFoundError } from "../engine/errors";
import { AmiIdSchema, ChannelSchema, ImageSupersededError } from "../engine/images";
import { assertReplaceable } from "../engine/plan";
import { ImageProvenanceError, judgeImage } from "../engine/provenance";
import { StepSchema } from "../engine/schemas";
import type { LaunchTemplateRef } from "../engine/types";
import { now } from "../runtime/clock";
import { config, imagePolicy } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";
import { stackAccount } from "../runtime/stack";

const PinInputSchema = StepSchema.extend({ imageId: AmiIdSchema, channel: ChannelSchema });

/**
 * Gives a group an explicit launch template version carrying the new image, copied from the version it runs
 * now with only the image changed, unless a newer image heads the channel now (ImageSupersededError) or the
 * image no longer passes the image policy (ImageProvenanceError, naming the rule). Re-running finds the
 * version it made before instead of making another.
 */
async function pinStep({ groupName, imageId, channel }: z.output<typeof PinInputSchema>) {
  // A newer image may have been announced since this rollout started: then it rolls, and this one stops.
  const head = await readChannelHead(config().PHOENIX_TABLE, channel);
  if (head && head.imageId !== imageId) {
    throw new ImageSupersededError(
      `channel ${channel} moved on to ${head.imageId} (created ${head.createdAt}); ${imageId} no longer rolls`,
      { channel, imageId, head },
    );
  }
  // The image may have been deprecated, disabled or retagged since the rollout started: judge it again.
  const verdict = judgeImage(imageId, await describeImage(imageId), imagePolicy(stackAccount()), now());
  if (!verdict.allowed) {
    const refusal = { imageId, channel, groupName, rule: verdict.rule, reason: verdict.reason };
    await publishEvent(config().PHOENIX_EVENT_BUS, "Image Rollout Refused", refusal);
    throw new ImageProvenanceError(verdict.rule, verdict.reason, refusal);
  }
  const group = await readGroup(groupName);
  assertReplaceable(group);
  const template = group.launchTemplate as LaunchTemplateRef;
  const current = await resolveLaunchTemplateVersion(template.launchTemplateId, template.version);
  if (!current) throw new LaunchTemplateVersionNotFoundError(template.launchTemplateId, template.version);
  if (current.imageId === imageId) return { ...current, created: false };
  const version = await ensureImageVersion({
    launchTemplateId: template.launchTemplateId,
    sourceVersion: current.version,
    imageId,
    note: `channel ${channel}, from version ${current.version}`,
  });
  logger.info("image version", {
    launchTemplateId: template.launchTemplateId,
    version: version.version,
    created: version.created,
  });
  return version;
}

export const handler = phoenixHandler(PinInputSchema, pinStep);
