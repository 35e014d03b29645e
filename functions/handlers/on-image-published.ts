import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import type { Context } from "aws-lambda";
import { claimChannelHead } from "../aws/channels";
import { currentDynamoDbClient } from "../aws/dynamodb";
import { getBuiltImage } from "../aws/imagebuilder";
import { getParameter } from "../aws/ssm";
import { startNamedExecution } from "../aws/stepfunctions";
import { InvalidInputError } from "../engine/errors";
import {
  AmiIdSchema,
  channelOfBuiltImage,
  channelOfParameter,
  type ImageEvent,
  ImageEventSchema,
  type PublishedImage,
} from "../engine/images";
import { executionName } from "../engine/names";
import { now } from "../runtime/clock";
import { config, required } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

/** Turns any of the three image events into a published image, or says why it is ignored. */
async function resolveImage(event: ImageEvent): Promise<PublishedImage | { ignored: string }> {
  const settings = config();
  switch (event["detail-type"]) {
    case "EC2 Image Builder Image State Change": {
      if (event.detail.state.status !== "AVAILABLE")
        return { ignored: `image state is ${event.detail.state.status}` };
      const arn = event.resources[0] as string;
      const built = await getBuiltImage(arn);
      const ami = built.amis.find((item) => item.region === settings.AWS_REGION);
      if (!ami) return { ignored: `image ${arn} has no AMI in ${settings.AWS_REGION}` };
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
    case "Parameter Store Change": {
      if (!["Create", "Update"].includes(event.detail.operation))
        return { ignored: `parameter ${event.detail.operation}` };
      const channel = channelOfParameter(event.detail.name, settings.PHOENIX_GOLDEN_AMI_PREFIX);
      if (!channel)
        return { ignored: `${event.detail.name} is not under ${settings.PHOENIX_GOLDEN_AMI_PREFIX}` };
      const { value } = await getParameter(event.detail.name);
      const imageId = AmiIdSchema.safeParse(value.trim());
      if (!imageId.success)
        throw new InvalidInputError([
          { path: `parameter ${event.detail.name}`, message: `value "${value}" is not an AMI id` },
        ]);
      return { imageId: imageId.data, channel, origin: "ssm", reference: event.detail.name };
    }
    case "Image Published":
      return {
        imageId: event.detail.imageId,
        channel: event.detail.channel,
        origin: event.source,
        reference: event.source,
        soakSeconds: event.detail.soakSeconds,
      };
  }
}

/** Starts the channel's rollout onto the image under a deterministic name: at most once per channel and image. */
async function startRollout(image: PublishedImage) {
  const name = executionName("image", image.channel, image.imageId);
  const execution = await startNamedExecution({
    stateMachineArn: required("PHOENIX_IMAGE_ROLLOUT_ARN"),
    name,
    input: { image },
  });
  return { ...execution, executionName: name, requestedAt: now().toISOString() };
}

let startRolloutOnce: typeof startRollout | undefined;
let idempotency: IdempotencyConfig | undefined;

/**
 * A new golden image was published (Image Builder, Parameter Store, or an "Image Published" event): start
 * one image-rollout execution for its channel, unless an image announced later already heads the channel. EventBridge delivers at least once; a duplicate or replayed
 * event finds the Powertools idempotency record, or at worst the execution of the same name, and starts nothing.
 */
async function onImagePublished(event: ImageEvent, context: Context) {
  const resolved = await resolveImage(event);
  if ("ignored" in resolved) {
    logger.info("image event ignored", { reason: resolved.ignored, eventId: event.id });
    return { status: "ignored", reason: resolved.ignored };
  }
  const image = resolved;
  // EventBridge does not deliver in order: an image announced before the channel's current one never rolls.
  const publishedAt = new Date(event.time).toISOString();
  const claim = await claimChannelHead(config().PHOENIX_TABLE, {
    channel: image.channel,
    imageId: image.imageId,
    publishedAt,
  });
  if (!claim.claimed) {
    const reason = `superseded: channel ${image.channel} already follows ${claim.head?.imageId} (announced ${claim.head?.publishedAt}), newer than ${image.imageId} (announced ${publishedAt})`;
    logger.warn("image event superseded", { reason, eventId: event.id });
    return { status: "superseded", reason, image };
  }
  idempotency ??= new IdempotencyConfig({ expiresAfterSeconds: 24 * 3600 });
  startRolloutOnce ??= makeIdempotent(startRollout, {
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: config().PHOENIX_TABLE,
      awsSdkV3Client: currentDynamoDbClient,
      keyAttr: "id",
      expiryAttr: "ttl",
    }),
    config: idempotency,
  });
  idempotency.registerLambdaContext(context);
  const invokedAt = now().toISOString();
  const execution = await startRolloutOnce(image);
  // A duplicate gets the first delivery's stored result (requested earlier), or a name Step Functions refused.
  const duplicate = !execution.started || execution.requestedAt < invokedAt;
  logger.info("image rollout", { image, executionArn: execution.executionArn, duplicate });
  return { status: duplicate ? "already started" : "started", image, ...execution };
}

export const handler = phoenixHandler(ImageEventSchema, onImagePublished);
