// Zod schemas of the data the replace-group state machine carries between steps. Each handler parses its
// input with them, so a malformed event names the bad field instead of failing somewhere deeper. The
// `z.ZodType<T>` annotations keep each schema in step with the engine's TypeScript type.
import * as z from "zod";
import type { GroupSettings, ReplacementPlan, Wave } from "./plan";
import { GroupNameSchema, InstanceIdSchema, ReplacementReasonSchema, RolloutPolicySchema } from "./policy";
import type { LaunchTemplateRef, ReplacementTarget } from "./types";
import type { WaveLaunch } from "./wave";

const isoTime = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);

export const LaunchTemplateRefSchema: z.ZodType<LaunchTemplateRef> = z.object({
  launchTemplateId: z.string(),
  launchTemplateName: z.string(),
  version: z.string().min(1),
});

export const ReplacementTargetSchema: z.ZodType<ReplacementTarget> = z.object({
  launchTemplateId: z.string().min(1),
  launchTemplateName: z.string(),
  version: z.string().regex(/^[1-9][0-9]*$/, "must be an explicit version number"),
  imageId: z.string().min(1),
});

export const GroupSettingsSchema: z.ZodType<GroupSettings> = z.object({
  launchTemplate: LaunchTemplateRefSchema,
  minSize: count,
  maxSize: count,
  desiredCapacity: count,
  suspendedProcesses: z.array(z.string()),
});

export const WaveSchema: z.ZodType<Wave> = z.object({
  index: count,
  canary: z.boolean(),
  instanceIds: z.array(InstanceIdSchema).min(1),
  retireFirst: z.array(InstanceIdSchema),
  retireAfter: z.array(InstanceIdSchema),
  launchCount: z.number().int().min(1),
});

export const ReplacementPlanSchema: z.ZodType<ReplacementPlan> = z.object({
  groupName: GroupNameSchema,
  reason: ReplacementReasonSchema,
  target: ReplacementTargetSchema,
  previous: GroupSettingsSchema,
  policy: RolloutPolicySchema,
  targetGroupArns: z.array(z.string()),
  capacity: z.object({
    desired: count,
    floor: count,
    surge: count,
    unavailable: count,
    batchSize: count,
    peakSurge: count,
    deepestDip: count,
    maxSizeNeeded: count,
    maxSizeLimit: count,
    minSizeNeeded: count,
  }),
  waves: z.array(WaveSchema),
  skipped: z.array(z.object({ instanceId: z.string(), why: z.string() })),
  instancesToReplace: count,
  continuation: z.object({ instanceIds: z.array(InstanceIdSchema).min(1) }).optional(),
  historyEventsAtMost: count,
  estimate: z.object({
    totalSeconds: z.number().min(0),
    perWaveSeconds: z.number().min(0),
    readySeconds: z.number().min(0),
    drainSeconds: z.number().min(0),
  }),
  leaseSeconds: z.number().int().min(60),
  plannedAt: isoTime,
});

export const WaveLaunchSchema: z.ZodType<WaveLaunch> = z.object({
  launchedAt: isoTime,
  deadline: isoTime,
  baselineIds: z.array(z.string()),
  launchCount: z.number().int().min(1),
  desiredBefore: count,
  desiredAfter: count,
  nextCheckSeconds: z.number().int().min(0),
});

/** What the start of a wave recorded before it changed anything. */
export const WaveStartSchema = z.object({
  startedAt: isoTime,
  baselineIds: z.array(z.string()),
  desiredBefore: count,
  /** Named instances still in service at the start; the wave launches one instance for each. */
  launchCount: count,
  /** Instances of the wave that went another way since the plan (quarantined, replaced by AWS), and how. */
  gone: z.array(z.object({ instanceId: z.string(), why: z.string() })),
});
export type WaveStart = z.infer<typeof WaveStartSchema>;

/** What Prepare changed, so Finish and Restore undo exactly that. */
export const PreparedSchema = z.object({
  preparedAt: isoTime,
  pinnedVersion: z.string(),
  maxSize: count,
  minSize: count,
  /** Processes Phoenix suspended (not those that were already suspended). */
  suspendedByPhoenix: z.array(z.string()),
});
export type Prepared = z.infer<typeof PreparedSchema>;

/** Fields every step of an execution receives, for logs and events. */
export const StepSchema = z.object({ executionId: z.string().min(1), groupName: GroupNameSchema });

/** Error output of a Catch ({ Error, Cause }). */
export const FailureSchema = z.object({ Error: z.string(), Cause: z.string().optional() });
export type Failure = z.infer<typeof FailureSchema>;
