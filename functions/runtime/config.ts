import * as z from "zod";
import { parseDuration, parseRateBudget } from "../engine/durations";
import { InvalidInputError } from "../engine/errors";
import { parseOrThrow } from "../engine/policy";
import { type ImagePolicy, parseImageOwners, parseRequiredTags } from "../engine/provenance";
import type { SweepSettings } from "../engine/sweep";
import { parseMaintenanceWindow } from "../engine/windows";

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, context) => {
      const seconds = parseDuration(text);
      if (seconds === undefined)
        context.addIssue({ code: "custom", message: `"${text}" is not a duration like 7d or 36h` });
      return seconds ?? 0;
    });

const EnvironmentSchema = z.object({
  /** EventBridge bus that receives Phoenix's own events. */
  PHOENIX_EVENT_BUS: z.string().min(1).default("default"),
  /** DynamoDB table holding group locks, budgets and idempotency records (declared in serverless.yml). */
  PHOENIX_TABLE: z.string().min(3),
  /** The stack's stage: its state machines are named phoenix-<name>-<stage> (see runtime/stack.ts). */
  PHOENIX_STAGE: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,40}$/, "is not a stage name")
    .default("dev"),
  /** GuardDuty findings at or above this severity quarantine their instance (when the rule is enabled). */
  PHOENIX_GUARDDUTY_MIN_SEVERITY: z.coerce.number().min(0).max(10).default(7),
  /** Maximum instance age for groups without a phoenix:max-age tag. */
  PHOENIX_DEFAULT_MAX_AGE: duration("14d"),
  /** Instances younger than this are never replaced by a sweep. */
  PHOENIX_MIN_AGE: duration("1h"),
  /** Past max age plus this grace an instance is replaced even outside its maintenance window. */
  PHOENIX_DEADLINE_GRACE: duration("3d"),
  /** Fleet-wide limit of groups replacing at once (sweeps). */
  PHOENIX_MAX_CONCURRENT_GROUPS: z.coerce.number().int().min(1).max(1000).default(3),
  /** Groups of one image-rollout wave replacing at once. */
  PHOENIX_IMAGE_WAVE_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(100),
  /** Per-group rate budget for sweeps, "count/window". */
  PHOENIX_RATE_BUDGET: z
    .string()
    .default("10/1h")
    .refine((text) => parseRateBudget(text) !== undefined, "is not a budget like 4/1h"),
  /** Default maintenance window for sweeps ("" = always open). */
  PHOENIX_MAINTENANCE_WINDOW: z
    .string()
    .default("")
    .refine(
      (text) => text === "" || parseMaintenanceWindow(text) !== undefined,
      'is not like "Mon-Fri 02:00-05:00 Europe/Berlin"',
    ),
  /** Seconds to wait after an image is published before any group rolls. */
  PHOENIX_SOAK_SECONDS: z.coerce.number().int().min(0).max(604_800).default(0),
  /** Instance profile swapped in when an instance is quarantined ("" removes the profile instead). */
  PHOENIX_ISOLATION_PROFILE_ARN: z
    .string()
    .default("")
    .transform((value) => value || undefined),
  /**
   * Quarantine's network ACL mode: "tagged-subnets" also cuts off, with a deny-all network ACL, a suspect's
   * subnet when it is tagged phoenix:isolation-nacl=allowed (every instance of that subnet loses its traffic
   * across the subnet boundary); "off" never touches network ACLs.
   */
  PHOENIX_ISOLATION_NETWORK_ACL: z.enum(["off", "tagged-subnets"]).default("off"),
  /** Quarantine denies the suspect's role to sessions issued to the suspect before containment. */
  PHOENIX_REVOKE_CREDENTIALS: z
    .enum(["true", "false"])
    .default("true")
    .transform((value) => value === "true"),
  /** The stack's region: an image rollout uses the AMI distributed to it. */
  AWS_REGION: z.string().min(1).default("us-east-1"),
  /** Parameter Store path under which golden AMI parameters live: <prefix><channel>. */
  PHOENIX_GOLDEN_AMI_PREFIX: z.string().startsWith("/").default("/phoenix/golden-ami/"),
  /** Accounts whose AMIs may roll, comma-separated ("" = this account only). */
  PHOENIX_IMAGE_OWNERS: z.string().default(""),
  /** Tags every AMI must carry before it rolls, "key=value" or "key", comma-separated. */
  PHOENIX_IMAGE_REQUIRED_TAGS: z
    .string()
    .default("")
    .refine((text) => parseRequiredTags(text) !== undefined, 'is not like "pipeline=golden,signed"'),
  /** At most this many instances in one quarantine request. */
  PHOENIX_QUARANTINE_MAX_PER_REQUEST: z.coerce.number().int().min(1).max(20).default(5),
  /** At most this many instances of one group quarantined by requests within an hour. */
  PHOENIX_QUARANTINE_MAX_PER_HOUR: z.coerce.number().int().min(1).max(1000).default(10),
});

/** Settings every function reads from its environment. */
export type PhoenixConfig = z.infer<typeof EnvironmentSchema>;

let cached: PhoenixConfig | undefined;

/** The configuration, parsed once per cold start; a bad value fails with the variable's name. */
export function config(): PhoenixConfig {
  cached ??= parseOrThrow(EnvironmentSchema, process.env, "environment");
  return cached;
}

/** Forgets the parsed configuration (tests that change the environment). */
export function resetConfig(): void {
  cached = undefined;
}

/** A configured value that this function needs, or a clear error naming the variable. */
export function required<K extends keyof PhoenixConfig>(name: K): NonNullable<PhoenixConfig[K]> {
  const value = config()[name];
  if (value === undefined || value === "")
    throw new InvalidInputError([{ path: name, message: "is not set" }], "environment");
  return value as NonNullable<PhoenixConfig[K]>;
}

/** The sweep's settings from the environment. */
export function sweepSettings(): SweepSettings {
  const values = config();
  return {
    defaultMaxAgeSeconds: values.PHOENIX_DEFAULT_MAX_AGE,
    minAgeSeconds: values.PHOENIX_MIN_AGE,
    deadlineGraceSeconds: values.PHOENIX_DEADLINE_GRACE,
    maxConcurrentGroups: values.PHOENIX_MAX_CONCURRENT_GROUPS,
    defaultRateBudget: parseRateBudget(values.PHOENIX_RATE_BUDGET) as NonNullable<
      ReturnType<typeof parseRateBudget>
    >,
    defaultWindow: values.PHOENIX_MAINTENANCE_WINDOW
      ? parseMaintenanceWindow(values.PHOENIX_MAINTENANCE_WINDOW)
      : undefined,
  };
}

/** The stack's image policy (owners default to `stackAccount`); fails closed, naming the setting, when unclear. */
export function imagePolicy(stackAccount: string): ImagePolicy {
  const values = config();
  const owners = parseImageOwners(values.PHOENIX_IMAGE_OWNERS, stackAccount);
  if (!owners || owners.includes(""))
    throw new InvalidInputError(
      [{ path: "PHOENIX_IMAGE_OWNERS", message: "must name 12-digit accounts whose images may roll" }],
      "environment",
    );
  return { allowedOwners: owners, requiredTags: parseRequiredTags(values.PHOENIX_IMAGE_REQUIRED_TAGS) ?? [] };
}
