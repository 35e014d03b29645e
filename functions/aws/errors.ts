import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import {
  AwsRequestRejectedError,
  CapacityLimitError,
  PhoenixError,
  ThrottledError,
  TransientAwsError,
} from "../engine/errors";

// Auto Scaling faults that clear by themselves once a running activity ends.
const RETRY_LATER = new Set(["ScalingActivityInProgress", "ResourceContention", "ServiceUnavailable"]);

interface SdkLikeError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $retryable?: { throttling?: boolean };
}

/** Maps any error from an AWS call to a named Phoenix error the state machine can Retry or Catch on. */
export function translateAwsError(error: unknown, operation: string): PhoenixError {
  if (error instanceof PhoenixError) return error;
  const sdk = (
    typeof error === "object" && error !== null ? error : { message: String(error) }
  ) as SdkLikeError;
  const code = sdk.name ?? "Error";
  const context = { operation, code, requestId: sdk.$metadata?.requestId };
  const message = `${operation}: ${code}: ${sdk.message ?? "no message"}`;
  // biome-ignore lint/suspicious/noExplicitAny: the smithy classifiers take the SDK's own error type
  const classified = sdk as any;
  if (isThrottlingError(classified)) return new ThrottledError(message, context, { cause: error });
  if (RETRY_LATER.has(code) || isTransientError(classified) || isServerError(classified)) {
    return new TransientAwsError(message, context, { cause: error });
  }
  if (code === "ValidationError" && /capacity|max size|min size/i.test(sdk.message ?? "")) {
    return new CapacityLimitError(message, context, { cause: error });
  }
  return new AwsRequestRejectedError(message, context, { cause: error });
}

/** Runs one AWS call and translates its failure; `operation` names the call in the error. */
export async function callAws<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translateAwsError(error, operation);
  }
}
