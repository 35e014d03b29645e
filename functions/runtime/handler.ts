import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { ParseError } from "@aws-lambda-powertools/parser";
import { parser } from "@aws-lambda-powertools/parser/middleware";
import middy, { type MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import type * as z from "zod";
import { type FieldIssue, InvalidInputError, PhoenixError, readableIssueMessage } from "../engine/errors";
import { logger, metrics } from "./observability";
import { rememberInvocation } from "./stack";

type StandardIssue = { message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> };

/** Dotted field path of a Standard Schema issue (`policy.maxSurgePercent`, `instanceIds[2]`). */
function issuePath(issue: StandardIssue): string {
  return (issue.path ?? []).reduce<string>((path, segment) => {
    const key = typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment;
    return typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${String(key)}` : String(key);
  }, "");
}

/** Puts the execution and group on every log line of the invocation. */
const executionLogKeys = (): MiddlewareObj => ({
  before: (request) => {
    rememberInvocation(request.context as Context | undefined);
    const event = request.event as { executionId?: unknown; groupName?: unknown } | undefined;
    logger.appendKeys({
      executionId: typeof event?.executionId === "string" ? event.executionId : undefined,
      groupName: typeof event?.groupName === "string" ? event.groupName : undefined,
    });
  },
});

/** Turns parse failures into InvalidInputError naming each field, and logs every failure once. */
const namedErrors = (): MiddlewareObj => ({
  onError: (request) => {
    const error = request.error;
    if (error instanceof ParseError && Array.isArray(error.cause)) {
      const issues: FieldIssue[] = (error.cause as StandardIssue[]).map((issue) => ({
        path: issuePath(issue),
        message: readableIssueMessage(issue),
      }));
      request.error = new InvalidInputError(issues);
    }
    const failure = request.error;
    if (failure instanceof PhoenixError)
      logger.warn(failure.message, { error: failure.name, context: failure.context });
    else logger.error("unexpected failure", { error: failure });
  },
});

/** Options of a Phoenix Lambda handler. */
export interface HandlerOptions {
  /** Flush Powertools metrics after each invocation (only for handlers that publish some). */
  publishesMetrics?: boolean;
}

/**
 * Wraps a step's work in the Phoenix middy stack: Lambda context and execution keys on every log line,
 * input parsed with the step's zod schema (InvalidInputError names the fields), named errors, metrics.
 */
export function phoenixHandler<S extends z.ZodType, R>(
  schema: S,
  work: (input: z.output<S>, context: Context) => Promise<R>,
  options: HandlerOptions = {},
) {
  const handler = middy<z.output<S>, R, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(executionLogKeys())
    .use(namedErrors())
    .use(parser({ schema }) as MiddlewareObj<z.output<S>, R, Error, Context>)
    .handler(work);
  if (options.publishesMetrics) handler.use(logMetrics(metrics));
  return handler;
}
