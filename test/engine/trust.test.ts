// The trust boundary's pure decisions: image provenance rule by rule, event hygiene, free-text checks and
// quarantine budgets, with literal facts and a fixed clock.
import { describe, expect, it } from "vitest";
import {
  futureDated,
  type ImageFacts,
  judgeImage,
  parseImageOwners,
  parseRequiredTags,
} from "../../functions/engine/provenance";
import { QuarantineRequestSchema } from "../../functions/engine/quarantine";
import { judgeHourlyBudget, judgeQuarantineReach } from "../../functions/engine/quarantine-budget";
import {
  guardDutyFindingIgnored,
  hasControlCharacters,
  parameterChangeIgnored,
} from "../../functions/engine/trust";

const NOW = new Date("2026-11-23T09:00:00Z");
const ACCOUNT = "123456789012";
const image = (facts: Partial<ImageFacts> = {}): ImageFacts => ({
  imageId: "ami-0c1d2e3f4a5b60002",
  ownerId: ACCOUNT,
  state: "available",
  creationDate: "2026-11-22T20:00:00.000Z",
  tags: { pipeline: "golden" },
  ...facts,
});
const policy = { allowedOwners: [ACCOUNT], requiredTags: [] };

describe("image provenance", () => {
  it("allows an available image of an allowed owner, ordered by EC2's creation time", () => {
    expect(judgeImage("ami-0c1d2e3f4a5b60002", image(), policy, NOW)).toEqual({
      allowed: true,
      createdAt: "2026-11-22T20:00:00.000Z",
    });
  });

  it.each([
    ["an AMI EC2 does not know", undefined, policy, "image-exists"],
    ["another account's AMI", image({ ownerId: "999999999999" }), policy, "image-owner"],
    ["a deprecated AMI", image({ deprecationTime: "2026-11-23T08:00:00Z" }), policy, "image-not-deprecated"],
    ["a disabled AMI", image({ state: "disabled" }), policy, "image-not-disabled"],
    ["a pending AMI", image({ state: "pending" }), policy, "image-available"],
    [
      "an AMI missing a required tag",
      image({ tags: {} }),
      { ...policy, requiredTags: [{ key: "pipeline" }] },
      "image-required-tag",
    ],
    [
      "an AMI whose required tag has another value",
      image({ tags: { pipeline: "adhoc" } }),
      { ...policy, requiredTags: [{ key: "pipeline", value: "golden" }] },
      "image-required-tag",
    ],
    ["an AMI without a creation date", image({ creationDate: undefined }), policy, "image-creation-date"],
  ])("refuses %s, naming the rule", (_, facts, imagePolicy, rule) => {
    const verdict = judgeImage("ami-0c1d2e3f4a5b60002", facts, imagePolicy, NOW);
    expect(verdict).toMatchObject({ allowed: false, rule });
    expect((verdict as { reason: string }).reason).toMatch(/^ami-0c1d2e3f4a5b60002: /);
  });

  it("a deprecation time still ahead does not refuse (yet)", () => {
    expect(judgeImage("ami-1", image({ deprecationTime: "2026-12-01T00:00:00Z" }), policy, NOW).allowed).toBe(
      true,
    );
  });

  it("reads the owners and required-tag params, failing closed on what is not an account or a tag", () => {
    expect(parseImageOwners("", ACCOUNT)).toEqual([ACCOUNT]);
    expect(parseImageOwners("self, 111122223333", ACCOUNT)).toEqual([ACCOUNT, "111122223333"]);
    expect(parseImageOwners("amazon", ACCOUNT)).toBeUndefined();
    expect(parseRequiredTags("pipeline=golden, signed")).toEqual([
      { key: "pipeline", value: "golden" },
      { key: "signed" },
    ]);
    expect(parseRequiredTags("a b=c")).toBeUndefined();
  });

  it("refuses an event dated beyond the clock skew, not one a little ahead", () => {
    expect(futureDated("2099-01-01T00:00:00Z", NOW)).toMatch(/more than 300 s after now/);
    expect(futureDated("2026-11-23T09:04:00Z", NOW)).toBeUndefined();
    expect(futureDated("2026-11-20T00:00:00Z", NOW)).toBeUndefined();
  });
});

describe("event hygiene", () => {
  it("a Parameter Store change with an exception is no new image; other operations neither", () => {
    expect(parameterChangeIgnored({ operation: "Update", exception: "Unable to Describe Resource" })).toMatch(
      /did not apply the change \(exception: Unable to Describe Resource\)/,
    );
    expect(parameterChangeIgnored({ operation: "Delete" })).toBe("parameter Delete");
    expect(parameterChangeIgnored({ operation: "Update" })).toBeUndefined();
  });

  it("a GuardDuty sample finding quarantines nothing", () => {
    expect(guardDutyFindingIgnored({ service: { additionalInfo: { sample: true } } })).toMatch(
      /sample finding/,
    );
    expect(guardDutyFindingIgnored({ service: { additionalInfo: {} } })).toBeUndefined();
    expect(guardDutyFindingIgnored({})).toBeUndefined();
  });

  it.each([
    ["a newline", "alice\nINFO forged log line"],
    ["an escape", "alice\u001b[2J"],
    ["a right-to-left override", "alice\u202Eecila"],
    ["a NUL", "alice\u0000"],
  ])("free text with %s is refused, naming the field", (_, text) => {
    expect(hasControlCharacters(text)).toBe(true);
    const parsed = QuarantineRequestSchema.safeParse({
      instanceIds: ["i-0123456789abcdef0"],
      reason: "beaconing out",
      requestedBy: text,
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({
      path: ["requestedBy"],
      message: "must not contain control characters",
    });
    expect(
      QuarantineRequestSchema.safeParse({ instanceIds: ["i-0123456789abcdef0"], reason: `x ${text}` })
        .success,
    ).toBe(false);
  });

  it("ordinary text in any script passes", () => {
    expect(hasControlCharacters("Zoë Ørsted — SOC, 東京")).toBe(false);
  });
});

describe("quarantine budgets", () => {
  const budget = { maxPerRequest: 5, maxPerGroupPerHour: 10 };
  const group = (members: string[], requested: string[]) => ({ groupName: "web", members, requested });

  it("refuses more instances than one request may take, whole", () => {
    const ids = ["i-1", "i-2", "i-3", "i-4", "i-5", "i-6"];
    expect(
      judgeQuarantineReach({
        instanceIds: ids,
        groups: [group([...ids, "i-7"], ids)],
        wholeGroupAllowed: true,
        budget,
      }),
    ).toMatchObject({ allowed: false, rule: "quarantine-per-request" });
  });

  it("never takes a whole group unless the responders' request says all", () => {
    const reach = { instanceIds: ["i-1", "i-2"], groups: [group(["i-1", "i-2"], ["i-1", "i-2"])], budget };
    expect(judgeQuarantineReach({ ...reach, wholeGroupAllowed: false })).toMatchObject({
      allowed: false,
      rule: "quarantine-whole-group",
    });
    expect(judgeQuarantineReach({ ...reach, wholeGroupAllowed: true })).toEqual({ allowed: true });
    expect(
      judgeQuarantineReach({
        ...reach,
        groups: [group(["i-1", "i-2", "i-3"], ["i-1", "i-2"])],
        wholeGroupAllowed: false,
      }),
    ).toEqual({ allowed: true });
  });

  it("counts a group's hour: up to the budget, not past it", () => {
    expect(judgeHourlyBudget("web", 2, 8, budget)).toEqual({ allowed: true });
    expect(judgeHourlyBudget("web", 3, 8, budget)).toMatchObject({
      allowed: false,
      rule: "quarantine-per-hour",
    });
  });
});
