import type { z } from "zod";
import { ensureImageVersion, resolveLaunchTemplateVersion } from "../aws/ec2";
import { readGroup } from "../aws/fleet";
import { LaunchTemplateVersionNotFoundError } from "../engine/errors";
import { AmiIdSchema, ChannelSchema } from "../engine/images";
import { assertReplaceable } from "../engine/plan";
import { StepSchema } from "../engine/schemas";
import type { LaunchTemplateRef } from "../engine/types";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const PinInputSchema = StepSchema.extend({ imageId: AmiIdSchema, channel: ChannelSchema });

/**
 * Gives a group an explicit launch template version carrying the new image, copied from the version it runs
 * now with only the image changed. Re-running finds the version it made before instead of making another.
 */
async function pinStep({ groupName, imageId, channel }: z.output<typeof PinInputSchema>) {
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
