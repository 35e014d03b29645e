import { MetricUnit } from "@aws-lambda-powertools/metrics";
import * as z from "zod";
import { describeTargetGroupTimings } from "../aws/elbv2";
import { publishEvent } from "../aws/events";
import { readManagedFleet } from "../aws/fleet";
import { readBudgetUsed, recordReplacement } from "../aws/ledger";
import { readLockedGroups } from "../aws/lock";
import { startNamedExecution } from "../aws/stepfunctions";
import { ageStats, collectAges } from "../engine/fleet-ages";
import { executionName, nameTime } from "../engine/names";
import { planReplacement } from "../engine/plan";
import { groupPolicy } from "../engine/policy";
import { groupSweepSettings, planSweep, type SweepGroupInput, sweepReason } from "../engine/sweep";
import { now } from "../runtime/clock";
import { config, sweepSettings } from "../runtime/config";
import { phoenixHandler } from "../runtime/handler";
import { logger, metrics } from "../runtime/observability";
import { stateMachineArn } from "../runtime/stack";
import { reapLeftovers } from "./shared/leftovers";

// An EventBridge scheduled event ({ time, ... }) or a direct invocation ({ dryRun: true }).
const SweepInputSchema = z
  .object({
    time: z.iso.datetime({ offset: true }).optional(),
    dryRun: z.boolean().default(false),
  })
  .loose();

/**
 * The age sweep: finds instances older than their group's maximum age, or not on its current image, and starts
 * one replacement per group, oldest first, within every budget. A dry run returns the plan (with waves and
 * estimated durations) and changes nothing. Either way the plan is emitted as an event.
 */
async function sweepStep(input: z.output<typeof SweepInputSchema>) {
  const at = now();
  const settings = sweepSettings();
  const { tableName, eventBus } = { tableName: config().PHOENIX_TABLE, eventBus: config().PHOENIX_EVENT_BUS };
  const { groups, currentVersions } = await readManagedFleet();
  const locked = await readLockedGroups(
    tableName,
    groups.map((group) => group.groupName),
    at,
  );
  const windows = groups.map((group) => {
    const resolved = groupSweepSettings(group, settings);
    return {
      groupName: group.groupName,
      windowSeconds:
        "invalid" in resolved ? settings.defaultRateBudget.windowSeconds : resolved.rateBudget.windowSeconds,
    };
  });
  const used = await readBudgetUsed(tableName, windows, at);
  const inputs: SweepGroupInput[] = groups.map((group) => ({
    group,
    currentImageId: currentVersions.get(group.groupName)?.imageId,
    replacing: locked.has(group.groupName),
    budgetUsed: used.get(group.groupName) ?? 0,
  }));
  const plan = planSweep(inputs, settings, at);
  const stats = ageStats(collectAges(inputs, settings, at));
  metrics.addMetric("MaxInstanceAge", MetricUnit.Seconds, stats.maxAgeSeconds);
  metrics.addMetric("P50InstanceAge", MetricUnit.Seconds, stats.p50AgeSeconds);
  metrics.addMetric("P95InstanceAge", MetricUnit.Seconds, stats.p95AgeSeconds);
  metrics.addMetric("InstancesOverMaxAge", MetricUnit.Count, stats.overMax);
  metrics.addMetric("DriftedInstances", MetricUnit.Count, stats.drifted);
  metrics.addMetric("InstancesDue", MetricUnit.Count, plan.instancesDue);

  const slot = nameTime(input.time ? new Date(input.time) : at);
  const replacements = [];
  for (const decision of plan.decisions.filter((item) => item.action === "replace")) {
    const group = groups.find((item) => item.groupName === decision.groupName);
    const target = currentVersions.get(decision.groupName);
    if (!group || !target) continue;
    const name = executionName("sweep", decision.groupName, slot);
    const instanceIds = decision.instances.map((instance) => instance.instanceId);
    const reason = sweepReason(decision.instances);
    const policy = groupPolicy(group.tags);
    const started = { groupName: decision.groupName, executionName: name, reason, instanceIds };
    if (input.dryRun) {
      const waves = planReplacement({
        group,
        target,
        reason,
        instanceIds,
        policy,
        targetGroups: await describeTargetGroupTimings(group.targetGroupArns),
        now: at,
      });
      replacements.push({
        ...started,
        waves: waves.waves,
        estimate: waves.estimate,
        capacity: waves.capacity,
      });
      continue;
    }
    const execution = await startNamedExecution({
      stateMachineArn: stateMachineArn("replace-group"),
      name,
      input: { groupName: decision.groupName, reason, instanceIds, requestedBy: "age-sweep" },
    });
    const budget = windows.find((window) => window.groupName === decision.groupName);
    await recordReplacement({
      tableName,
      groupName: decision.groupName,
      windowSeconds: budget?.windowSeconds ?? 3600,
      executionName: name,
      count: instanceIds.length,
      now: at,
    });
    replacements.push({ ...started, ...execution });
  }
  metrics.addMetric("ReplacementsStarted", MetricUnit.Count, input.dryRun ? 0 : replacements.length);
  // Whatever a replacement took out of service and left running (stopped, timed out, its reap gave up).
  const leftovers = await reapLeftovers({ dryRun: input.dryRun });
  const result = { dryRun: input.dryRun, plan, stats, replacements, leftovers };
  await publishEvent(eventBus, input.dryRun ? "Sweep Planned" : "Sweep Started", {
    sweptAt: plan.sweptAt,
    dryRun: input.dryRun,
    stats,
    instancesDue: plan.instancesDue,
    instancesToReplace: plan.instancesToReplace,
    groups: plan.decisions.map((decision) => ({
      groupName: decision.groupName,
      action: decision.action,
      why: decision.why,
      instances: decision.instances.length,
      ...(decision.invalidTag ? { invalidTag: decision.invalidTag } : {}),
    })),
  });
  logger.info("sweep", {
    dryRun: input.dryRun,
    instancesDue: plan.instancesDue,
    replacements: replacements.length,
    stats,
  });
  return result;
}

export const handler = phoenixHandler(SweepInputSchema, sweepStep, { publishesMetrics: true });
