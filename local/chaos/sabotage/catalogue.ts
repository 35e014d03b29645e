// The sabotage catalogue: deliberate bugs, each swapped in from outside functions/ for the length of a run,
// and the invariant that must catch each. `npm run chaos -- --sabotage` runs them on a fixed seed set and
// fails if one goes unnoticed; `npm test` runs it. Each sabotage names the function it wraps in its
// `seams` (module and export, handler or state): re-point it there when the code moves.
//
// Only type imports from functions/ here: this file is read before the module seams are installed.

import type { ReplacementPlan } from "../../../functions/engine/plan";
import type { RolloutPolicy } from "../../../functions/engine/policy";
import type { Restoration } from "../../../functions/engine/restore";
import type { SweepGroupInput, SweepSettings } from "../../../functions/engine/sweep";
import type { GroupSnapshot } from "../../../functions/engine/types";
import type { HandlerSwap } from "../../seams/registry";
import type { Simulation } from "../../simulation";
import { QUARANTINE_SABOTAGES } from "./quarantine";
import { desired, kinds, only, policy, quiet, setting, sweepDue, tags, withFaults } from "./shapes";
import type { Sabotage, Seam } from "./types";

/** A seam on a Lambda handler (typed here so each swap's arguments are). */
const onHandler = (handler: string, swap: (sim: Simulation) => HandlerSwap): Seam => ({ handler, swap });

// ------------------------------------------------------------------ the seams' targets

const PLAN = "functions/engine/plan.ts";
const WAVE = "functions/engine/wave.ts";
const RESTORE = "functions/engine/restore.ts";
const SWEEP = "functions/engine/sweep.ts";

/** planReplacement computed as if the policy's minHealthyPercent gave `floor` instead of its own floor. */
function planWithFloor(floorOf: (input: { group: GroupSnapshot; policy: RolloutPolicy }) => number) {
  return () => (real: (input: unknown) => unknown, input: unknown) => {
    const args = input as { group: GroupSnapshot; policy: RolloutPolicy };
    const desired = args.group.desiredCapacity;
    const floor = floorOf(args);
    if (desired < 1) return real(input);
    const wrong = { ...args.policy, minHealthyPercent: Math.max(0, Math.floor((100 * floor) / desired)) };
    // Only the floor is wrong: the plan carries the policy as requested.
    return { ...(real({ ...args, policy: wrong }) as ReplacementPlan), policy: args.policy };
  };
}

/** planSweep with some of its settings or inputs changed. */
function sweepWith(
  change: (inputs: SweepGroupInput[], settings: SweepSettings) => [SweepGroupInput[], SweepSettings],
) {
  return () => (real: (...args: unknown[]) => unknown, inputs: unknown, settings: unknown, now: unknown) =>
    real(...change(inputs as SweepGroupInput[], settings as SweepSettings), now);
}

/** The catalogue. */
export const CATALOGUE: Sabotage[] = [
  {
    name: "floor-off-by-one",
    bug: "the plan's floor is one instance lower than the policy's",
    caughtBy: "floor",
    seams: [
      {
        module: PLAN,
        export: "planReplacement",
        swap: planWithFloor(({ group, policy }) =>
          Math.max(0, Math.ceil((group.desiredCapacity * policy.minHealthyPercent) / 100) - 1),
        ),
      },
    ],
    shape: (run) =>
      run.trigger === "manual" && quiet(run) && (policy(run).minHealthyPercent ?? 100) >= 75
        ? run
        : undefined,
  },
  {
    name: "floor-from-min-size",
    bug: "the floor is computed from the group's MinSize instead of its desired capacity",
    caughtBy: "floor",
    seams: [
      {
        module: PLAN,
        export: "planReplacement",
        swap: planWithFloor(({ group, policy }) =>
          Math.ceil((group.minSize * policy.minHealthyPercent) / 100),
        ),
      },
    ],
    shape: (run) => {
      const group = run.scenario.groups[0];
      return run.trigger === "manual" && quiet(run) && group && group.minSize <= group.desiredCapacity - 2
        ? run
        : undefined;
    },
  },
  {
    name: "surge-too-large",
    bug: "the plan surges by the whole group whatever the policy's maxSurgePercent",
    caughtBy: "ceiling",
    seams: [
      {
        module: PLAN,
        export: "planReplacement",
        swap: () => (real: (input: unknown) => unknown, input: unknown) => {
          const args = input as { policy: RolloutPolicy };
          const plan = real({ ...args, policy: { ...args.policy, maxSurgePercent: 100 } }) as ReplacementPlan;
          return { ...plan, policy: args.policy };
        },
      },
    ],
    shape: (run) =>
      run.trigger === "manual" && quiet(run) && (policy(run).maxSurgePercent ?? 25) <= 25 && desired(run) >= 6
        ? run
        : undefined,
  },
  {
    name: "processes-not-restored",
    bug: "restoration resumes none of the processes the rollout suspended",
    caughtBy: "restored",
    seams: [
      {
        module: RESTORE,
        export: "restorationFor",
        swap:
          () =>
          (real: (...args: unknown[]) => unknown, ...args: unknown[]) => ({
            ...(real(...args) as Restoration),
            resumeProcesses: [],
          }),
      },
    ],
    shape: (run) => (run.trigger === "manual" && quiet(run) ? run : undefined),
  },
  {
    name: "lock-not-released",
    bug: "releasing the group's lock does nothing",
    caughtBy: "lock",
    seams: [{ module: "functions/aws/lock.ts", export: "releaseGroupLock", swap: () => async () => true }],
    shape: (run) => (run.trigger === "manual" && quiet(run) ? run : undefined),
  },
  {
    name: "lease-too-short",
    bug: "the lock's lease is a minute (the shortest the lock step takes), shorter than a wave",
    caughtBy: "lock",
    seams: [{ module: "functions/engine/lock.ts", export: "waveLeaseSeconds", swap: () => () => 60 }],
    shape: (run) => (run.trigger === "manual" && quiet(run) ? run : undefined),
  },
  {
    name: "two-at-once",
    bug: "taking the group's lock always succeeds, without writing it",
    caughtBy: "exclusive",
    seams: [
      {
        module: "functions/aws/lock.ts",
        export: "acquireGroupLock",
        swap: () => async (_real: unknown, args: unknown) => {
          const { groupName, owner, now, leaseSeconds } = args as {
            groupName: string;
            owner: string;
            now: Date;
            leaseSeconds: number;
          };
          return {
            groupName,
            owner,
            acquiredAt: now.toISOString(),
            expiresAt: now.getTime() / 1000 + leaseSeconds,
          };
        },
      },
    ],
    shape: (run) =>
      run.trigger === "manual" && only(run, ["concurrent-trigger"])
        ? withFaults(run, { kind: "concurrent-trigger" })
        : undefined,
  },
  {
    name: "terminate-serving-new",
    bug: "the reap also terminates a serving instance the rollout launched",
    caughtBy: "explainedRemoval",
    seams: [
      {
        module: WAVE,
        export: "planReap",
        swap: () => (real: (...args: unknown[]) => unknown, retiring: unknown, group: unknown) => {
          const plan = real(retiring, group) as { terminate: string[]; waiting: string[] };
          const snapshot = group as GroupSnapshot;
          const serving = snapshot.instances.find(
            (instance) =>
              instance.lifecycleState === "InService" &&
              instance.launchTemplateVersion === snapshot.launchTemplate?.version &&
              !plan.terminate.includes(instance.instanceId),
          );
          return serving ? { ...plan, terminate: [...plan.terminate, serving.instanceId] } : plan;
        },
      },
    ],
    shape: (run) => (run.trigger === "manual" && quiet(run) ? run : undefined),
  },
  {
    name: "retired-left-running",
    bug: "the reap never terminates what the rollout took out of service",
    caughtBy: "leak",
    seams: [{ module: WAVE, export: "planReap", swap: () => () => ({ terminate: [], waiting: [] }) }],
    shape: (run) => (run.trigger === "manual" && quiet(run) ? run : undefined),
  },
  {
    name: "stopped-leftovers-kept",
    bug: "neither the janitor nor the sweep terminates what a stopped rollout left out of service",
    caughtBy: "leak",
    seams: [
      {
        module: "functions/engine/leftovers.ts",
        export: "planLeftovers",
        swap: () => (_real: unknown, retiring: unknown) => ({
          terminate: [],
          left: (retiring as { instanceId: string }[]).map(({ instanceId }) => ({
            instanceId,
            why: "sabotage",
          })),
        }),
      },
    ],
    shape: (run) => (run.trigger === "manual" && quiet(run) ? run : undefined),
    setup: stopAfterFirstRetirement,
  },
  {
    name: "janitor-idle",
    bug: "the janitor does nothing for a stopped rollout",
    caughtBy: "lock",
    seams: [onHandler("reclaimGroup", () => async () => ({ reclaimed: false }))],
    shape: (run) => (run.trigger === "manual" && quiet(run) ? run : undefined),
    setup: stopAfterFirstRetirement,
  },
  ...QUARANTINE_SABOTAGES,
  {
    name: "rate-budget-ignored",
    bug: "the sweep replaces every due instance whatever the group's rate budget",
    caughtBy: "sweepBudget",
    seams: [
      {
        module: SWEEP,
        export: "planSweep",
        swap: sweepWith((inputs, settings) => [
          inputs.map((input) => {
            const { "phoenix:rate-budget": _budget, ...rest } = input.group.tags;
            return { ...input, budgetUsed: 0, group: { ...input.group, tags: rest } };
          }),
          { ...settings, defaultRateBudget: { ...settings.defaultRateBudget, count: 1_000_000 } },
        ]),
      },
    ],
    shape: (run) =>
      sweepDue(run) &&
      (setting(run, "PHOENIX_RATE_BUDGET") !== "50/1h" || tags(run)["phoenix:rate-budget"]) &&
      desired(run) >= 5
        ? run
        : undefined,
  },
  {
    name: "window-ignored",
    bug: "the sweep takes every maintenance window for open",
    caughtBy: "sweepWindow",
    seams: [{ module: "functions/engine/windows.ts", export: "isWindowOpen", swap: () => () => true }],
    shape: (run) =>
      run.trigger === "age-sweep" &&
      quiet(run) &&
      setting(run, "PHOENIX_MIN_AGE") === "1h" &&
      setting(run, "PHOENIX_RATE_BUDGET") === "50/1h" &&
      !tags(run)["phoenix:rate-budget"] &&
      ["Mon-Fri 02:00-05:00 Europe/Berlin", "Sat,Sun 22:00-06:00 America/New_York"].includes(
        setting(run, "PHOENIX_MAINTENANCE_WINDOW") ?? "",
      )
        ? run
        : undefined,
  },
  {
    name: "too-young",
    bug: "the sweep ignores the minimum age",
    caughtBy: "sweepMinAge",
    seams: [
      {
        module: SWEEP,
        export: "planSweep",
        swap: sweepWith((inputs, settings) => [inputs, { ...settings, minAgeSeconds: 0 }]),
      },
    ],
    shape: (run) =>
      run.trigger === "age-sweep" &&
      quiet(run) &&
      setting(run, "PHOENIX_MIN_AGE") === "40h" &&
      setting(run, "PHOENIX_RATE_BUDGET") === "50/1h" &&
      !tags(run)["phoenix:rate-budget"] &&
      !["Mon-Fri 02:00-05:00 Europe/Berlin", "Sat,Sun 22:00-06:00 America/New_York"].includes(
        setting(run, "PHOENIX_MAINTENANCE_WINDOW") ?? "",
      )
        ? run
        : undefined,
  },
  {
    name: "too-many-groups",
    bug: "the sweep starts replacements in more groups than maxConcurrentGroups",
    caughtBy: "sweepConcurrency",
    seams: [
      {
        module: SWEEP,
        export: "planSweep",
        swap: sweepWith((inputs, settings) => [inputs, { ...settings, maxConcurrentGroups: 1000 }]),
      },
    ],
    shape: (run) =>
      sweepDue(run) && run.groupNames.length === 2 && setting(run, "PHOENIX_MAX_CONCURRENT_GROUPS") === "1"
        ? run
        : undefined,
  },
  {
    name: "waves-together",
    bug: "an image rollout puts every group of the channel in wave 0",
    caughtBy: "imageWaves",
    seams: [
      {
        module: "functions/engine/images.ts",
        export: "planImageWaves",
        swap:
          () =>
          (real: (...args: unknown[]) => unknown, ...args: unknown[]) => {
            const plan = real(...args) as {
              waves: { wave: number; groups: string[] }[];
              excluded: unknown[];
            };
            return { ...plan, waves: [{ wave: 0, groups: plan.waves.flatMap((wave) => wave.groups) }] };
          },
      },
    ],
    shape: (run) =>
      run.trigger === "image-event" && quiet(run) && run.groupNames.length === 2 ? run : undefined,
  },
  {
    name: "halt-ignored",
    bug: "an image rollout goes on to the next wave after a wave failed",
    caughtBy: "imageWaves",
    seams: [
      {
        stateMachine: "image-rollout",
        state: "JudgeWave",
        // The wave's judgement never sees a failed group.
        patch: (state) => {
          const { "anyFailed.$": _judged, ...parameters } = state.Parameters as Record<string, unknown>;
          return { ...state, Parameters: { ...parameters, anyFailed: false } };
        },
      },
    ],
    shape: (run) =>
      run.trigger === "image-event" &&
      run.groupNames.length === 2 &&
      kinds(run).every((kind) => kind === "bad-image")
        ? withFaults(run, { kind: "bad-image" })
        : undefined,
  },
  {
    name: "older-image-rolls",
    bug: "an image announced earlier claims the channel and rolls after a newer one",
    caughtBy: "imageOrder",
    seams: [
      {
        module: "functions/aws/channels.ts",
        export: "claimChannelHead",
        swap: () => async () => ({ claimed: true }),
      },
      { module: "functions/aws/channels.ts", export: "readChannelHead", swap: () => async () => undefined },
    ],
    shape: (run) =>
      run.trigger === "image-event" && quiet(run)
        ? withFaults(run, { kind: "out-of-order", delaySeconds: 1800 })
        : undefined,
  },
];

/** Steering: an operator stops the rollout the moment it first takes old instances out of service. */
function stopAfterFirstRetirement(sim: Simulation): void {
  let stopped = false;
  sim.world.onLog((entry) => {
    if (stopped || entry.kind !== "instance-detaching" || !entry.caller?.executionArn) return;
    if (!entry.caller.executionArn.includes(":phoenix-replace-group-")) return;
    stopped = sim.stopExecution(entry.caller.executionArn);
  });
}

/** The module seams the catalogue needs, for installing the hooks before functions/ is imported. */
export function seamTargets(catalogue: Sabotage[] = CATALOGUE): Record<string, string[]> {
  const targets: Record<string, string[]> = {};
  for (const sabotage of catalogue)
    for (const seam of sabotage.seams)
      if ("module" in seam)
        targets[seam.module] = [...new Set([...(targets[seam.module] ?? []), seam.export])];
  return targets;
}
