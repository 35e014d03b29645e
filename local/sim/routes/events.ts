// EventBridge PutEvents: events go on the simulated bus, where rules route them.
import { SimAwsError } from "../world";
import { type Route, route } from "./route";

/** EventBridge operations. */
export const eventRoutes: Route[] = [
  route("events", "PutEvents", "events:put", true, (world, input) => {
    const entries = input.Entries as {
      Source: string;
      DetailType: string;
      Detail: string;
      EventBusName?: string;
      Resources?: string[];
    }[];
    if (entries.length > 10)
      throw new SimAwsError(
        "ValidationException",
        "1 validation error detected: Entries must have at most 10 items",
      );
    // No one but AWS may put events from an AWS source: such an entry fails, the others go on the bus.
    // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html
    const results = entries.map((entry) =>
      entry.Source.startsWith("aws.")
        ? {
            ErrorCode: "NotAuthorizedForSourceException",
            ErrorMessage: `Not authorized for the source ${entry.Source}`,
          }
        : {
            EventId: world.putEvent({
              source: entry.Source,
              detailType: entry.DetailType,
              detail: JSON.parse(entry.Detail),
              resources: entry.Resources,
              eventBusName: entry.EventBusName,
            }).id,
          },
    );
    return { FailedEntryCount: results.filter((result) => "ErrorCode" in result).length, Entries: results };
  }),
];
