import * as z from "zod";
import { InvalidInputError, readableIssueMessage } from "./errors";

/** Auto Scaling processes Phoenix may suspend during a rollout (never Launch, Terminate or HealthCheck). */
export const SUSPENDABLE_PROCESSES = [
  "AZRebalance",
  "AlarmNotification",
  "ScheduledActions",
  "ReplaceUnhealthy",
  "InstanceRefresh",
] as const;

/** Processes that, when already suspended on a group, make a rollout impossible. */
export const REQUIRED_PROCESSES = ["Launch", "Terminate", "HealthCheck", "AddToLoadBalancer"] as const;

const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

/** How a replacement may proceed: wave sizes, readiness, probes, bake and which processes to pause. */
export const RolloutPolicySchema = z
  .object({
    /** Extra instances allowed above desired capacity while a wave launches (launch before terminate). */
    maxSurgePercent: z.number().int().min(0).max(100).default(25),
    /** Share of desired capacity that must stay healthy and in service at every moment. */
    minHealthyPercent: z.number().int().min(0).max(100).default(100),
    /** Replace a single instance first and probe it before any larger wave. */
    canary: z.boolean().default(false),
    readiness: z
      .object({
        /** Seconds between readiness checks once the first check found the wave not ready. */
        pollSeconds: seconds(1, 300).default(15),
        /** A wave that is not InService and healthy this long after launch fails and rolls back. */
        timeoutSeconds: seconds(60, 7200).default(900),
      })
      .strict()
      .prefault({}),
    probes: z
      .object({
        http: z
          .object({
            path: z.string().startsWith("/").max(1024),
            port: z.number().int().min(1).max(65535).default(80),
            expectedStatus: z.number().int().min(100).max(599).default(200),
            timeoutSeconds: seconds(1, 30).default(5),
          })
          .strict()
          .optional(),
        /** CloudWatch alarms that must be OK after launch and stay OK through the bake time. */
        alarms: z.array(z.string().min(1).max(255)).max(100).default([]),
        /** Seconds to watch a passing wave (alarms, target health) before retiring old instances. */
        bakeSeconds: seconds(0, 86400).default(0),
      })
      .strict()
      .prefault({}),
    /** Processes suspended for the rollout and resumed after it (only those Phoenix suspended). */
    suspendProcesses: z.array(z.enum(SUSPENDABLE_PROCESSES)).default(["AZRebalance", "ScheduledActions"]),
  })
  .strict();

/** A fully defaulted rollout policy. */
export type RolloutPolicy = z.infer<typeof RolloutPolicySchema>;

/** Tag on a group holding its rollout policy as JSON, e.g. {"canary":true,"maxSurgePercent":50}. */
export const POLICY_TAG = "phoenix:policy";

/** A group's rollout policy from its phoenix:policy tag (defaults without one); InvalidInputError names the field. */
export function groupPolicy(tags: Record<string, string>): RolloutPolicy {
  const text = tags[POLICY_TAG];
  if (text === undefined) return RolloutPolicySchema.parse({});
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidInputError([{ path: POLICY_TAG, message: "is not JSON" }], "group policy");
  }
  return parseOrThrow(RolloutPolicySchema, value, `${POLICY_TAG} tag`);
}

/** Why a replacement was started. */
export const ReplacementReasonSchema = z.enum(["new-image", "max-age", "drift", "manual"]);
export type ReplacementReason = z.infer<typeof ReplacementReasonSchema>;

/** An EC2 instance id (short or long form). */
export const InstanceIdSchema = z
  .string()
  .regex(/^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, "not an EC2 instance id");

/** An Auto Scaling group name as AWS accepts it. */
export const GroupNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\p{L}\p{N}\s!-~]+$/u, "not a valid Auto Scaling group name");

/** The input of one replacement execution (the replace-group state machine). */
export const ReplacementRequestSchema = z
  .object({
    groupName: GroupNameSchema,
    reason: ReplacementReasonSchema,
    /** Explicit launch template version number to roll onto; default: the group's current one, resolved. */
    targetVersion: z
      .string()
      .regex(/^[1-9][0-9]{0,8}$/, "must be an explicit version number, never $Latest or $Default")
      .optional(),
    /** Replace exactly these instances (age sweep, manual); otherwise the plan chooses. */
    instanceIds: z.array(InstanceIdSchema).min(1).max(5000).optional(),
    /** How to roll; without one, the group's phoenix:policy tag, else the defaults. */
    policy: RolloutPolicySchema.optional(),
    dryRun: z.boolean().default(false),
    requestedBy: z.string().max(256).optional(),
    /** Set when a parent execution (an image rollout) starts this one; links the two in the console. */
    AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: z.string().optional(),
  })
  .strict();

/** A validated, defaulted replacement request. */
export type ReplacementRequest = z.infer<typeof ReplacementRequestSchema>;

/** Turns zod issues into field issues with dotted paths, for errors a person can act on. */
export function toFieldIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path.reduce<string>(
      (path, part) =>
        typeof part === "number" ? `${path}[${part}]` : path ? `${path}.${String(part)}` : String(part),
      "",
    ),
    message: readableIssueMessage(issue),
  }));
}

/** Parses input with a schema or throws InvalidInputError naming every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what = "input"): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new InvalidInputError(toFieldIssues(result.error), what);
  return result.data;
}
