import { describe, expect, it } from "vitest";
import {
  AmiIdSchema,
  ChannelSchema,
  channelHeadKey,
  channelOfBuiltImage,
  channelOfParameter,
  ImageBuilderEventSchema,
  ImagePublishedEventSchema,
  ParameterChangeEventSchema,
  planImageWaves,
} from "../../functions/engine/images";
import { group } from "../fixtures";

const member = (name: string, tags: Record<string, string>) =>
  group(1, { groupName: name, tags: { "phoenix:managed": "true", "phoenix:image-channel": "web", ...tags } });

describe("image rollout waves", () => {
  it("groups the channel's managed groups by phoenix:wave, 0 first, names sorted; no tag is wave 0", () => {
    const groups = [
      member("b-api", { "phoenix:wave": "1" }),
      member("a-api", { "phoenix:wave": "1" }),
      member("edge", {}),
      member("batch", { "phoenix:wave": "10" }),
      member("other-channel", { "phoenix:image-channel": "db" }),
      group(1, { groupName: "unmanaged", tags: { "phoenix:image-channel": "web" } }),
    ];
    expect(planImageWaves(groups, "web")).toEqual({
      waves: [
        { wave: 0, groups: ["edge"] },
        { wave: 1, groups: ["a-api", "b-api"] },
        { wave: 10, groups: ["batch"] },
      ],
      excluded: [],
    });
  });

  it("leaves out, loudly, a group whose wave is not a whole number (fail closed: it must not roll early)", () => {
    const plan = planImageWaves(
      [
        member("web", { "phoenix:wave": "first" }),
        member("api", { "phoenix:wave": "1234" }),
        member("ok", { "phoenix:wave": "2" }),
      ],
      "web",
    );
    expect(plan.waves).toEqual([{ wave: 2, groups: ["ok"] }]);
    expect(plan.excluded).toEqual([
      { groupName: "web", why: 'phoenix:wave "first" is not a whole number' },
      { groupName: "api", why: 'phoenix:wave "1234" is not a whole number' },
    ]);
    expect(planImageWaves([member("x", { "phoenix:wave": " 1" })], "web").excluded).toHaveLength(1);
    expect(planImageWaves([member("x", { "phoenix:wave": "1 " })], "web").excluded).toHaveLength(1);
  });
});

describe("where an image comes from", () => {
  it("a golden-AMI parameter feeds the channel named right after the prefix", () => {
    expect(channelOfParameter("/phoenix/golden-ami/web", "/phoenix/golden-ami/")).toBe("web");
    expect(channelOfParameter("/phoenix/golden-ami/web/arm64", "/phoenix/golden-ami/")).toBe("web");
    expect(channelOfParameter("/other/web", "/phoenix/golden-ami/")).toBeUndefined();
    expect(channelOfParameter("/phoenix/golden-ami/", "/phoenix/golden-ami/")).toBeUndefined();
    expect(channelOfParameter("/phoenix/golden-ami/we b", "/phoenix/golden-ami/")).toBeUndefined();
  });

  it("an Image Builder image follows its phoenix:image-channel tag, else its name", () => {
    expect(channelOfBuiltImage("web-golden", { "phoenix:image-channel": "web" })).toBe("web");
    expect(channelOfBuiltImage("web-golden", {})).toBe("web-golden");
    expect(channelOfBuiltImage("web golden", {})).toBeUndefined();
  });

  it("channels and AMI ids are checked; each channel's head has one item", () => {
    expect(AmiIdSchema.safeParse("ami-0123456789abcdef0").success).toBe(true);
    expect(AmiIdSchema.safeParse("ami-12345678").success).toBe(true);
    expect(AmiIdSchema.safeParse("ami-123").error?.issues[0]?.message).toBe("not an AMI id");
    expect(AmiIdSchema.safeParse("xami-12345678").success).toBe(false);
    expect(AmiIdSchema.safeParse("ami-12345678x").success).toBe(false);
    expect(ChannelSchema.safeParse("web_1.2-a").success).toBe(true);
    expect(ChannelSchema.safeParse("").success).toBe(false);
    expect(ChannelSchema.safeParse("x".repeat(65)).success).toBe(false);
    expect(ChannelSchema.safeParse("web/1").error?.issues[0]?.message).toBe(
      "letters, digits, '.', '_' and '-' only",
    );
    expect(channelHeadKey("web")).toBe("channel#web");
  });

  it("reads the three announcements, and nothing else", () => {
    const envelope = { id: "e-1", time: "2026-11-23T09:00:00Z" };
    expect(
      ImageBuilderEventSchema.safeParse({
        ...envelope,
        source: "aws.imagebuilder",
        "detail-type": "EC2 Image Builder Image State Change",
        resources: ["arn:aws:imagebuilder:us-east-1:123456789012:image/web/1.0.0/1"],
        detail: { state: { status: "AVAILABLE" } },
      }).success,
    ).toBe(true);
    expect(
      ImageBuilderEventSchema.safeParse({
        ...envelope,
        source: "aws.imagebuilder",
        "detail-type": "EC2 Image Builder Image State Change",
        resources: ["arn:aws:ec2:x"],
        detail: { state: { status: "AVAILABLE" } },
      }).success,
    ).toBe(false);
    expect(
      ParameterChangeEventSchema.safeParse({
        ...envelope,
        source: "aws.ssm",
        "detail-type": "Parameter Store Change",
        detail: { name: "/phoenix/golden-ami/web", operation: "Update" },
      }).success,
    ).toBe(true);
    expect(
      ParameterChangeEventSchema.safeParse({
        ...envelope,
        source: "aws.ssm",
        "detail-type": "Parameter Store Change",
        detail: { name: "phoenix", operation: "Update" },
      }).success,
    ).toBe(false);
    const published = {
      ...envelope,
      source: "ci.pipeline",
      "detail-type": "Image Published",
      detail: { imageId: "ami-0123456789abcdef0", channel: "web", soakSeconds: 600 },
    };
    expect(ImagePublishedEventSchema.safeParse(published).success).toBe(true);
    expect(ImagePublishedEventSchema.safeParse({ ...published, source: "" }).success).toBe(false);
    expect(
      ImagePublishedEventSchema.safeParse({ ...published, detail: { ...published.detail, extra: 1 } })
        .success,
    ).toBe(false);
    expect(ImagePublishedEventSchema.safeParse({ ...published, time: "yesterday" }).success).toBe(false);
    expect(ImagePublishedEventSchema.safeParse({ ...published, id: "" }).success).toBe(false);
  });
});
