// What every simulated API route is made of: the route record, each service's throttling error, pagination
// and tag lists as the services answer them. One file per AWS service in this folder answers its calls.
import type { SimWorld } from "../world";
import { SimAwsError } from "../world";

/** One simulated API operation. */
export interface Route {
  service:
    | "autoscaling"
    | "ec2"
    | "elbv2"
    | "cloudwatch"
    | "events"
    | "sfn"
    | "imagebuilder"
    | "ssm"
    | "iam"
    | "kms";
  operation: string;
  /** Request bucket the call draws from. */
  bucket: string;
  /** The service's throttling error code. */
  throttleCode: string;
  /** True when the call changes something (dry runs must make none). */
  mutating: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: inputs are the SDK's command inputs, checked per route
  answer: (world: SimWorld, input: any) => unknown;
}

const THROTTLE = {
  autoscaling: "Throttling",
  ec2: "RequestLimitExceeded",
  elbv2: "Throttling",
  cloudwatch: "Throttling",
  events: "ThrottlingException",
  sfn: "ThrottlingException",
  imagebuilder: "TooManyRequestsException",
  ssm: "ThrottlingException",
  iam: "Throttling",
  kms: "ThrottlingException",
} as const;

/** A route record with the service's throttling error. */
export function route(
  service: Route["service"],
  operation: string,
  bucket: string,
  mutating: boolean,
  answer: Route["answer"],
): Route {
  return { service, operation, bucket, throttleCode: THROTTLE[service], mutating, answer };
}

/** Tags as the EC2 API lists them. */
export const tagList = (tags: Map<string, string>) => [...tags].map(([Key, Value]) => ({ Key, Value }));

/** A token for pagination: the index of the next item. */
export function page<T>(
  items: T[],
  nextToken: string | undefined,
  size: number,
): { items: T[]; nextToken?: string } {
  const start = nextToken ? Number(nextToken) : 0;
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw new SimAwsError("InvalidNextToken", "The specified token is invalid");
  }
  const end = start + size;
  return { items: items.slice(start, end), nextToken: end < items.length ? String(end) : undefined };
}

/** The tags given for one resource type in TagSpecifications (tag-on-create). */
export const tagsOf = (
  specifications: { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[] | undefined,
  type: string,
) =>
  Object.fromEntries(
    (specifications ?? [])
      .filter((spec) => spec.ResourceType === type)
      .flatMap((spec) => (spec.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
  );
