// Image provenance: whether an AMI may roll at all. Checked before any image rollout starts and again when
// each group's launch template version is pinned, from what EC2 itself says about the image (DescribeImages),
// never from what the announcing event claims. Pure: the image's facts and the clock come in.
import { PhoenixError } from "./errors";

/** What EC2 says about an AMI (DescribeImages with IncludeDeprecated and IncludeDisabled). */
export interface ImageFacts {
  imageId: string;
  ownerId: string;
  /** pending | available | invalid | deregistered | transient | failed | error | disabled */
  state: string;
  /** ISO 8601, from EC2. */
  creationDate?: string;
  /** ISO 8601; the AMI is deprecated from this moment on. */
  deprecationTime?: string;
  tags: Record<string, string>;
}

/** The stack's image policy (params imageOwners and imageRequiredTags). */
export interface ImagePolicy {
  /** Accounts whose AMIs may roll. */
  allowedOwners: string[];
  /** Tags an AMI must carry; a tag without a value only has to exist. */
  requiredTags: { key: string; value?: string }[];
}

/** Each rule of the image policy, by the name a refusal carries. */
export type ProvenanceRule =
  | "image-exists"
  | "image-available"
  | "image-not-deprecated"
  | "image-not-disabled"
  | "image-owner"
  | "image-required-tag"
  | "image-creation-date";

/** The verdict on one image. */
export type ProvenanceVerdict =
  | { allowed: true; createdAt: string }
  | { allowed: false; rule: ProvenanceRule; reason: string };

/** An image failed the stack's image policy: nothing rolls onto it. */
export class ImageProvenanceError extends PhoenixError {
  override name = "ImageProvenanceError";
  constructor(
    readonly rule: ProvenanceRule,
    message: string,
    context: Record<string, unknown> = {},
  ) {
    super(message, { ...context, rule });
  }
}

/**
 * Judges an image against the policy, rule by rule in a fixed order; the first rule broken refuses it.
 * `image` is undefined when EC2 does not know the AMI in this account and region.
 */
export function judgeImage(
  imageId: string,
  image: ImageFacts | undefined,
  policy: ImagePolicy,
  now: Date,
): ProvenanceVerdict {
  const refuse = (rule: ProvenanceRule, reason: string): ProvenanceVerdict => ({
    allowed: false,
    rule,
    reason: `${imageId}: ${reason}`,
  });
  if (!image) return refuse("image-exists", "EC2 knows no such AMI in this account and region");
  if (image.state === "disabled") return refuse("image-not-disabled", "the AMI is disabled");
  if (image.state !== "available")
    return refuse("image-available", `the AMI is ${image.state}, not available`);
  if (image.deprecationTime && Date.parse(image.deprecationTime) <= now.getTime())
    return refuse("image-not-deprecated", `the AMI is deprecated since ${image.deprecationTime}`);
  if (!policy.allowedOwners.includes(image.ownerId))
    return refuse(
      "image-owner",
      `owned by account ${image.ownerId}, not one of the allowed owners (${policy.allowedOwners.join(", ")})`,
    );
  for (const tag of policy.requiredTags) {
    const value = image.tags[tag.key];
    if (value === undefined) return refuse("image-required-tag", `the AMI has no tag ${tag.key}`);
    if (tag.value !== undefined && value !== tag.value)
      return refuse("image-required-tag", `the AMI's tag ${tag.key} is "${value}", not "${tag.value}"`);
  }
  if (!image.creationDate || Number.isNaN(Date.parse(image.creationDate)))
    return refuse("image-creation-date", "EC2 gives the AMI no creation date to order it by");
  return { allowed: true, createdAt: new Date(image.creationDate).toISOString() };
}

/** The allowed owners from the imageOwners param: account ids separated by commas; empty means this account. */
export function parseImageOwners(text: string, thisAccount: string): string[] | undefined {
  const owners = text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => (item === "self" ? thisAccount : item));
  if (owners.some((owner) => !/^\d{12}$/.test(owner))) return undefined;
  return owners.length > 0 ? owners : [thisAccount];
}

/** Required tags from the imageRequiredTags param: "key=value" or "key", separated by commas. */
export function parseRequiredTags(text: string): ImagePolicy["requiredTags"] | undefined {
  const tags: ImagePolicy["requiredTags"] = [];
  for (const item of text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [key = "", ...rest] = item.split("=");
    if (!/^[\w.:/+@-]{1,128}$/.test(key.trim())) return undefined;
    tags.push(rest.length > 0 ? { key: key.trim(), value: rest.join("=").trim() } : { key: key.trim() });
  }
  return tags;
}

/** How far in the future an event's own `time` may be (clock skew between AWS and the sender). */
export const EVENT_CLOCK_SKEW_SECONDS = 300;

/** Why an event dated in the future is refused, or undefined when its time is plausible. */
export function futureDated(eventTime: string, now: Date): string | undefined {
  const at = Date.parse(eventTime);
  if (at - now.getTime() > EVENT_CLOCK_SKEW_SECONDS * 1000)
    return `event dated ${new Date(at).toISOString()}, more than ${EVENT_CLOCK_SKEW_SECONDS} s after now (${now.toISOString()})`;
  return undefined;
}
