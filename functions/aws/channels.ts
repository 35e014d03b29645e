import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { type ChannelHead, channelHeadKey } from "../engine/images";
import { conditionalWrite, dynamodb, getItem } from "./dynamodb";

/** The newest image announced on a channel, if any was. */
export async function readChannelHead(tableName: string, channel: string): Promise<ChannelHead | undefined> {
  const item = await getItem(tableName, channelHeadKey(channel));
  if (!item?.imageId?.S || !item.createdAt?.S) return undefined;
  return { channel, imageId: item.imageId.S, createdAt: item.createdAt.S };
}

/**
 * Makes an image the head of its channel with a conditional write that succeeds only if no image created
 * later (EC2's creation time) is already the head (the same image again is fine: a duplicate or a second
 * announcement). A head recorded before heads were ordered by creation time (no createdAt) gives way.
 * Returns the head that won instead, when this one lost.
 */
export async function claimChannelHead(
  tableName: string,
  head: ChannelHead,
): Promise<{ claimed: true } | { claimed: false; head?: ChannelHead }> {
  const claimed = await conditionalWrite("PutItem", () =>
    dynamodb().send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          id: { S: channelHeadKey(head.channel) },
          imageId: { S: head.imageId },
          createdAt: { S: head.createdAt },
        },
        // ISO-8601 UTC timestamps compare correctly as strings.
        ConditionExpression:
          "attribute_not_exists(id) OR attribute_not_exists(createdAt) OR createdAt < :at OR imageId = :image",
        ExpressionAttributeValues: { ":at": { S: head.createdAt }, ":image": { S: head.imageId } },
      }),
    ),
  );
  if (claimed) return { claimed: true };
  return { claimed: false, head: await readChannelHead(tableName, head.channel) };
}
