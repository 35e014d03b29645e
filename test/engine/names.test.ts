import { describe, expect, it } from "vitest";
import { batches, PER_CALL } from "../../functions/engine/batches";
import { groupLockKey, waveLeaseSeconds } from "../../functions/engine/lock";
import { executionArnOf, executionName, nameTime, shortHash } from "../../functions/engine/names";
import { policy } from "../fixtures";

describe("execution names", () => {
  it("are the parts joined when they are safe and short enough", () => {
    expect(executionName("sweep", "web-prod", "20261123T0900")).toBe("sweep-web-prod-20261123T0900");
    expect(executionName.within(12, "abc", "def")).toBe("abc-def");
  });

  it("replace unsafe characters and append a hash of the exact parts, so distinct inputs never collide", () => {
    const a = executionName("image", "web", "ami/1");
    const b = executionName("image", "web", "ami:1");
    expect(a).toMatch(/^image-web-ami-1-[0-9a-f]{8}$/);
    expect(b).toMatch(/^image-web-ami-1-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(a.endsWith(shortHash("image-web-ami/1"))).toBe(true);
  });

  it("never pass the length, cutting and hashing what is too long", () => {
    const long = executionName("x".repeat(100));
    expect(long).toHaveLength(80);
    expect(long).toBe(`${"x".repeat(71)}-${shortHash("x".repeat(100))}`);
    const within = executionName.within(20, "y".repeat(20), "z");
    expect(within).toHaveLength(20);
    expect(within).toBe(`${"y".repeat(11)}-${shortHash(`${"y".repeat(20)}-z`)}`);
  });

  it("hash with FNV-1a into eight hex digits", () => {
    expect(shortHash("")).toBe("811c9dc5");
    expect(shortHash("a")).toBe("e40c292c");
    expect(shortHash("foobar")).toBe("bf9cf968");
  });

  it("carry compact UTC times, and execution ARNs follow their state machine's", () => {
    expect(nameTime(new Date("2026-11-23T09:05:07.123Z"))).toBe("20261123T0905");
    expect(
      executionArnOf("arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-replace-group-dev", "run-1"),
    ).toBe("arn:aws:states:us-east-1:123456789012:execution:phoenix-replace-group-dev:run-1");
  });
});

describe("batches of ids per call", () => {
  it("splits into consecutive batches of at most the size, none empty", () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([1, 2, 3, 4], 2)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(batches([], 20)).toEqual([]);
    expect(batches([1], 1000)).toEqual([[1]]);
  });

  it("follows AWS's documented limits", () => {
    expect(PER_CALL).toEqual({
      detachInstances: 20,
      terminateInstances: 1000,
      createTags: 1000,
      deregisterTargets: 200,
    });
  });
});

describe("the group's lock", () => {
  it("is one item per group", () => {
    expect(groupLockKey("web-prod")).toBe("lock#group#web-prod");
  });

  it("lasts a wave at its longest: readiness timeout, bake twice, draining twice with its grace, ten minutes", () => {
    expect(waveLeaseSeconds(policy(), { drainSeconds: 30 })).toBe(900 + 0 + 2 * (30 + 60) + 600);
    // The grace is two polls when that is longer than a minute.
    expect(
      waveLeaseSeconds(
        policy({
          readiness: { pollSeconds: 45, timeoutSeconds: 600 },
          probes: { bakeSeconds: 120, alarms: [] },
        }),
        {
          drainSeconds: 300,
        },
      ),
    ).toBe(600 + 240 + 2 * (300 + 90) + 600);
  });
});
