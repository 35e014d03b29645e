// Sweep scale, run in its own process so that its CPU time and peak memory are its own: plans an age sweep
// (planSweep and the fleet age statistics, exactly what the sweep function computes from the inventory)
// over a synthetic inventory, and prints one JSON line. Usage: tsx bench/sweep-scale.ts <instances> <groups>

import { parseRateBudget } from "../functions/engine/durations";
import { fleetAgeStats } from "../functions/engine/fleet-ages";
import { planSweep, type SweepGroupInput, type SweepSettings } from "../functions/engine/sweep";
import type { GroupSnapshot, InstanceSnapshot } from "../functions/engine/types";
import { parseMaintenanceWindow } from "../functions/engine/windows";
import { Random } from "../local/sim/random";

const instances = Number(process.argv[2] ?? 100_000);
const groups = Number(process.argv[3] ?? 2_000);
const now = new Date("2026-11-23T12:00:00Z");
const random = new Random(2026);
const ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"];

/** A fleet like a real one: ages up to 30 days, a few groups on another image, mixed tags. */
function inventory(): SweepGroupInput[] {
  const perGroup = Math.ceil(instances / groups);
  return Array.from({ length: groups }, (_, index): SweepGroupInput => {
    const groupName = `svc-${String(index).padStart(4, "0")}`;
    const size = Math.min(perGroup, instances - index * perGroup);
    const currentImageId = `ami-${(index % 7).toString(16).padStart(17, "0")}`;
    const members: InstanceSnapshot[] = Array.from({ length: Math.max(0, size) }, (_, n) => ({
      instanceId: `i-${(index * perGroup + n).toString(16).padStart(17, "0")}`,
      availabilityZone: ZONES[n % ZONES.length] as string,
      lifecycleState: "InService",
      healthStatus: "Healthy",
      launchTemplateVersion: "3",
      imageId: random.between(0, 1) < 0.05 ? "ami-00000000000000old" : currentImageId,
      launchTime: new Date(now.getTime() - random.between(0, 30 * 86_400) * 1000).toISOString(),
      protectedFromScaleIn: false,
      tags: {},
    }));
    const tags: Record<string, string> = { "phoenix:managed": "true" };
    if (index % 3 === 0) tags["phoenix:max-age"] = "7d";
    if (index % 5 === 0) tags["phoenix:rate-budget"] = "4/1h";
    if (index % 11 === 0) tags["phoenix:maintenance-window"] = "Mon-Fri 02:00-05:00 Europe/Berlin";
    const group: GroupSnapshot = {
      groupName,
      minSize: size,
      maxSize: size * 2,
      desiredCapacity: size,
      launchTemplate: { launchTemplateId: `lt-${index}`, launchTemplateName: groupName, version: "3" },
      mixedInstancesPolicy: false,
      availabilityZones: ZONES,
      targetGroupArns: [],
      suspendedProcesses: [],
      tags,
      instances: members,
    };
    return { group, currentImageId, replacing: index % 50 === 0, budgetUsed: index % 4 };
  });
}

const settings: SweepSettings = {
  defaultMaxAgeSeconds: 14 * 86_400,
  minAgeSeconds: 3_600,
  deadlineGraceSeconds: 3 * 86_400,
  maxConcurrentGroups: 50,
  defaultRateBudget: parseRateBudget("10/1h") as NonNullable<ReturnType<typeof parseRateBudget>>,
  defaultWindow: parseMaintenanceWindow("Sat-Sun 00:00-23:59 UTC"),
};

const inputs = inventory();
// Measure the planning alone: collect the garbage of building the synthetic inventory first.
(globalThis as { gc?: () => void }).gc?.();
const before = process.cpuUsage();
const started = performance.now();
const plan = planSweep(inputs, settings, now);
const stats = fleetAgeStats(inputs, settings, now);
const cpu = process.cpuUsage(before);
console.log(
  JSON.stringify({
    instances: inputs.reduce((sum, input) => sum + input.group.instances.length, 0),
    groups: inputs.length,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    wallSeconds: (performance.now() - started) / 1000,
    // Peak resident memory of the whole process: Node, the inventory and the plan.
    peakRssMegabytes: process.resourceUsage().maxRSS / 1024,
    instancesDue: plan.instancesDue,
    instancesToReplace: plan.instancesToReplace,
    groupsReplacing: plan.decisions.filter((decision) => decision.action === "replace").length,
    maxAgeSeconds: stats.maxAgeSeconds,
  }),
);
