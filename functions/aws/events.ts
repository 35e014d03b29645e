import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { TransientAwsError } from "../engine/errors";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const eventBridge = () => clientFor("eventBridge", () => new EventBridgeClient(sdkClientDefaults));

/** The EventBridge source of every event Phoenix emits. */
export const PHOENIX_EVENT_SOURCE = "phoenix";

/** Emits one Phoenix event (for example "Replacement Completed") on the configured bus. */
export async function publishEvent(eventBusName: string, detailType: string, detail: object): Promise<void> {
  await putEvent(eventBusName, PHOENIX_EVENT_SOURCE, detailType, detail);
}

/** Puts one event on a bus from a source (the CLI puts an incident responder's request on Phoenix's bus). */
export async function putEvent(
  eventBusName: string,
  source: string,
  detailType: string,
  detail: object,
): Promise<void> {
  const response = await callAws("PutEvents", () =>
    eventBridge().send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: eventBusName,
            Source: source,
            DetailType: detailType,
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    ),
  );
  if ((response.FailedEntryCount ?? 0) > 0) {
    const entry = response.Entries?.find((item) => item.ErrorCode);
    throw new TransientAwsError(
      `PutEvents: ${entry?.ErrorCode ?? "entry failed"}: ${entry?.ErrorMessage ?? ""}`,
      {
        operation: "PutEvents",
        detailType,
      },
    );
  }
}
