import { MetricUnit } from "@aws-lambda-powertools/metrics";
import * as z from "zod";
import { resumeProcesses, updateGroup } from "../aws/autoscaling";
import { publishEvent } from "../aws/events";
import { readGroupWithInstances } from "../aws/fleet";
import { restorationFor } from "../engine/restore";
import { ReplacementPlanSchema, StepSchema } from "../engine/schemas";
import { summarizeReplacement } from "../engine/summary";
import { now } from "../runtime/clock";
import { config } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger, metrics } from "../runtime/observability";

const WaveResultSchema = z.object({
  index: z.number().int().min(0),
  replaced: z.array(z.string()),
  launched: z.array(z.string()),
  startedAt: z.string(),
  readyAt: z.string(),
  retiredAt: z.string(),
  probes: z.array(
    z.object({
      check: z.enum(["target-health", "image", "http", "alarms"]),
      passed: z.boolean(),
      detail: z.string(),
    }),
  ),
  gone: z.array(z.object({ instanceId: z.string(), why: z.string() })).default([]),
  notRetired: z.array(z.object({ instanceId: z.string(), why: z.string() })).default([]),
});

const FinishInputSchema = StepSchema.extend({
  plan: ReplacementPlanSchema,
  waveResults: z.array(WaveResultSchema),
});

/** Step 4: restore MaxSize, MinSize and processes (the new version stays), emit "Replacement Completed". */
async function finishStep({ executionId, groupName, plan, waveResults }: typeof FinishInputSchema._output) {
  // With its instances' tags: a quarantined member keeps the processes that protect it suspended.
  const current = await readGroupWithInstances(groupName);
  const restoration = restorationFor(plan.previous, current, "completed");
  await updateGroup({ groupName, ...restoration.update });
  await resumeProcesses(groupName, restoration.resumeProcesses);
  const summary = summarizeReplacement({ executionId, plan, waveResults, now: now() });
  await publishEvent(config().PHOENIX_EVENT_BUS, "Replacement Completed", summary);
  metrics.addDimension("groupName", groupName);
  metrics.addMetric("InstancesReplaced", MetricUnit.Count, summary.instancesReplaced);
  metrics.addMetric("ReplacementDuration", MetricUnit.Seconds, summary.durationSeconds);
  metrics.addMetric("ReplacementsCompleted", MetricUnit.Count, 1);
  logger.info("replacement completed", {
    instancesReplaced: summary.instancesReplaced,
    waves: summary.waves,
    durationSeconds: summary.durationSeconds,
  });
  return summary;
}

export const handler = phoenixHandler(FinishInputSchema, finishStep, { publishesMetrics: true });
