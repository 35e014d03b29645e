import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/** The one structured logger; handlers append the execution and group to every line. */
export const logger = new Logger({ serviceName: "phoenix" });

/** The one metrics publisher (CloudWatch EMF, namespace Phoenix). */
export const metrics = new Metrics({ namespace: "Phoenix", serviceName: "phoenix", logger });
