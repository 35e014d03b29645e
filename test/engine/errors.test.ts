// Error names are the contract with the state machines' Retry and Catch: each is set explicitly, and the
// messages say what to do.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as errors from "../../functions/engine/errors";
import { ImageSupersededError } from "../../functions/engine/images";
import {
  AlreadyQuarantinedError,
  EvidenceIncompleteError,
  InstanceNotFoundError,
} from "../../functions/engine/quarantine";
import { REPO_ROOT } from "../../local/stack";

const asl = ["replace-group", "image-rollout", "quarantine-instance"]
  .map((file) => readFileSync(join(REPO_ROOT, "statemachines", `${file}.asl.json`), "utf8"))
  .join("\n");

describe("named errors", () => {
  it("carry their class's name whatever the bundler does to class names", () => {
    const made = [
      new errors.PhoenixError("m"),
      new errors.InvalidInputError([{ path: "a", message: "b" }]),
      new errors.GroupNotFoundError("g"),
      new errors.GroupNotManagedError("g"),
      new errors.UnsupportedGroupError("g", "why"),
      new errors.PolicyBreaksFloorError("m", {}),
      new errors.LaunchTemplateVersionNotFoundError("lt", "3"),
      new errors.InstanceNotInGroupError("g", ["i-1"]),
      new errors.CapacityLimitError("m"),
      new errors.ThrottledError("m"),
      new errors.TransientAwsError("m"),
      new errors.AwsRequestRejectedError("m"),
      new errors.BelowFloorError("m"),
      new errors.ReplacementInProgressError("m"),
      new ImageSupersededError("m"),
      new InstanceNotFoundError("m"),
      new AlreadyQuarantinedError("m"),
      new EvidenceIncompleteError("m"),
    ];
    for (const error of made) {
      expect(error.name).toBe(error.constructor.name);
      expect(error).toBeInstanceOf(errors.PhoenixError);
    }
  });

  it("the state machines retry the retryable ones and catch the ones that decide a path", () => {
    expect(errors.RETRYABLE_ERROR_NAMES).toEqual(["ThrottledError", "TransientAwsError"]);
    for (const name of [...errors.RETRYABLE_ERROR_NAMES, "BelowFloorError", "ReplacementInProgressError"])
      expect(asl).toContain(`"${name}"`);
  });

  it("say what happened and what to do, with context for logs", () => {
    expect(new errors.GroupNotFoundError("web").message).toBe('Auto Scaling group "web" was not found');
    expect(new errors.GroupNotManagedError("web").message).toBe(
      'Auto Scaling group "web" is not managed by Phoenix: tag it phoenix:managed=true to opt in',
    );
    expect(new errors.UnsupportedGroupError("web", "no template")).toMatchObject({
      message: 'Auto Scaling group "web" is not supported: no template',
      context: { groupName: "web", why: "no template" },
    });
    expect(new errors.LaunchTemplateVersionNotFoundError("lt-1", "9")).toMatchObject({
      message: "Launch template lt-1 has no version 9",
      context: { launchTemplateId: "lt-1", version: "9" },
    });
    expect(new errors.InstanceNotInGroupError("web", ["i-1", "i-2"])).toMatchObject({
      message: 'Instances not in service in "web": i-1, i-2',
      context: { groupName: "web", instanceIds: ["i-1", "i-2"] },
    });
    expect(new errors.PolicyBreaksFloorError("m", { floor: 3 }).context).toEqual({ floor: 3 });
    expect(new errors.PhoenixError("m").context).toEqual({});
    expect(new errors.PhoenixError("m", {}, { cause: "x" }).cause).toBe("x");
  });

  it("name every bad field of an input, the root too", () => {
    const error = new errors.InvalidInputError(
      [
        { path: "groupName", message: "required" },
        { path: "", message: "unknown key" },
      ],
      "replacement request",
    );
    expect(error.message).toBe("Invalid replacement request: groupName: required; (root): unknown key");
    expect(error.issues).toHaveLength(2);
    expect(error.context).toEqual({ issues: error.issues });
    expect(new errors.InvalidInputError([{ path: "a", message: "b" }]).message).toBe("Invalid input: a: b");
  });

  it("read a missing field as required, and leave other messages alone", () => {
    expect(
      errors.readableIssueMessage({ code: "invalid_type", message: "expected string, received undefined" }),
    ).toBe("required");
    expect(
      errors.readableIssueMessage({ code: "invalid_type", message: "expected string, received number" }),
    ).toBe("expected string, received number");
    expect(errors.readableIssueMessage({ code: "too_small", message: "received undefined" })).toBe(
      "received undefined",
    );
  });
});
