// What the three image triggers share: once an event names a published image, claim the head of its
// channel and start the channel's rollout at most once. Each trigger is its own function (on-image-built,
// on-golden-parameter-changed, on-image-published), so that each bundle carries only the SDK clients its
// source needs.
import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import type { Context } from "aws-lambda";
import { claimChannelHead } from "../../aws/channels";
import { currentDynamoDbClient } from "../../aws/dynamodb";
import { startNamedExecution } from "../../aws/stepfunctions";
import type { PublishedImage } from "../../engine/images";
import { executionName } from "../../engine/names";
import { now } from "../../runtime/clock";
import { config } from "../../runtime/config";
import { logger } from "../../runtime/observability";
import { stateMachineArn } from "../../runtime/stack";

/** Starts the channel's rollout onto the image under a deterministic name: at most once per channel and image. */
async function startRollout(image: PublishedImage) {
  const name = executionName("image", image.channel, image.imageId);
  const execution = await startNamedExecution({
    stateMachineArn: stateMachineArn("image-rollout"),
    name,
    input: { image },
  });
  return { ...execution, executionName: name, requestedAt: now().toISOString() };
}

let startRolloutOnce: typeof startRollout | undefined;
let idempotency: IdempotencyConfig | undefined;

/**
 * A new golden image was published: start one image-rollout execution for its channel, unless an image
 * announced later already heads the channel. EventBridge delivers at least once; a duplicate or replayed
 * event finds the Powertools idempotency record, or at worst the execution of the same name, and starts nothing.
 */
export async function rollOutImage(
  resolved: PublishedImage | { ignored: string },
  event: { id: string; time: string },
  context: Context,
) {
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
