// Error names are the contract with the state machines: every `Retry` and `Catch` in statemachines/*.asl.json
// matches on these exact `name` strings. Names are set explicitly (not from the class name) because the
// deployed bundles are minified and class names do not survive.

/** A problem with one field of an input, by its dotted path. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Base class of every error Phoenix raises on purpose; carries structured context for logs and events. */
export class PhoenixError extends Error {
  override name = "PhoenixError";
  readonly context: Record<string, unknown>;

  constructor(message: string, context: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.context = context;
  }
}

/**
 * A validation issue's message as a person should read it: zod's default for a missing field ("expected
 * string, received undefined") reads like a type error, so it says "required".
 */
export function readableIssueMessage(issue: { message: string; code?: unknown }): string {
  return issue.code === "invalid_type" && issue.message.endsWith("received undefined")
    ? "required"
    : issue.message;
}

/** Input (event, CLI argument, policy) failed validation; nothing was changed. */
export class InvalidInputError extends PhoenixError {
  override name = "InvalidInputError";
  readonly issues: FieldIssue[];

  constructor(issues: FieldIssue[], what = "input") {
    const listed = issues.map((issue) => `${issue.path || "(root)"}: ${issue.message}`).join("; ");
    super(`Invalid ${what}: ${listed}`, { issues });
    this.issues = issues;
  }
}

/** The named Auto Scaling group does not exist. */
export class GroupNotFoundError extends PhoenixError {
  override name = "GroupNotFoundError";
  constructor(groupName: string) {
    super(`Auto Scaling group "${groupName}" was not found`, { groupName });
  }
}

/** The group is not tagged phoenix:managed=true, so Phoenix refuses to touch it. */
export class GroupNotManagedError extends PhoenixError {
  override name = "GroupNotManagedError";
  constructor(groupName: string) {
    super(
      `Auto Scaling group "${groupName}" is not managed by Phoenix: tag it phoenix:managed=true to opt in`,
      { groupName },
    );
  }
}

/** The group's shape is one Phoenix cannot replace safely (for example no launch template). */
export class UnsupportedGroupError extends PhoenixError {
  override name = "UnsupportedGroupError";
  constructor(groupName: string, why: string) {
    super(`Auto Scaling group "${groupName}" is not supported: ${why}`, { groupName, why });
  }
}

/** The rollout policy cannot replace anything without dropping below the group's healthy floor. */
export class PolicyBreaksFloorError extends PhoenixError {
  override name = "PolicyBreaksFloorError";
  constructor(message: string, context: Record<string, unknown>) {
    super(message, context);
  }
}

/** The requested launch template version does not exist. */
export class LaunchTemplateVersionNotFoundError extends PhoenixError {
  override name = "LaunchTemplateVersionNotFoundError";
  constructor(launchTemplateId: string, version: string) {
    super(`Launch template ${launchTemplateId} has no version ${version}`, { launchTemplateId, version });
  }
}

/** An instance named in a request is not a replaceable member of the group. */
export class InstanceNotInGroupError extends PhoenixError {
  override name = "InstanceNotInGroupError";
  constructor(groupName: string, instanceIds: string[]) {
    super(`Instances not in service in "${groupName}": ${instanceIds.join(", ")}`, {
      groupName,
      instanceIds,
    });
  }
}

/** AWS refused a capacity change (for example desired capacity above MaxSize). */
export class CapacityLimitError extends PhoenixError {
  override name = "CapacityLimitError";
}

/** AWS throttled the call; the state machine retries with backoff. */
export class ThrottledError extends PhoenixError {
  override name = "ThrottledError";
}

/** A transient AWS or network failure (5xx, timeout, reset); the state machine retries. */
export class TransientAwsError extends PhoenixError {
  override name = "TransientAwsError";
}

/** AWS rejected a request for a reason retrying will not fix. */
export class AwsRequestRejectedError extends PhoenixError {
  override name = "AwsRequestRejectedError";
}

/**
 * Taking instances out of service now would leave fewer healthy in-service instances than the floor
 * (something else took capacity meanwhile); the state machine waits and checks again, then rolls back.
 */
export class BelowFloorError extends PhoenixError {
  override name = "BelowFloorError";
}

/** Another replacement of the same group holds the group's lock. */
export class ReplacementInProgressError extends PhoenixError {
  override name = "ReplacementInProgressError";
}

/** Error names the state machines retry (with backoff and jitter). */
export const RETRYABLE_ERROR_NAMES = ["ThrottledError", "TransientAwsError"] as const;
