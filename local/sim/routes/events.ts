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
    const ids = entries.map(
      (entry) =>
        world.putEvent({
          source: entry.Source,
          detailType: entry.DetailType,
          detail: JSON.parse(entry.Detail),
          resources: entry.Resources,
          eventBusName: entry.EventBusName,
        }).id,
    );
    return { FailedEntryCount: 0, Entries: ids.map((EventId) => ({ EventId })) };
  }),
];
