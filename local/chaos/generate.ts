// One chaos run, drawn from a seed: a small account (one or two groups of varied size, sizes and policy),
// the trigger that starts the work, and the faults injected into it. The same seed draws the same run.

import { MANAGED_LAUNCH_TEMPLATE, MANAGED_TAGS, type Scenario, ScenarioSchema } from "../scenario";
import { Random } from "../sim/random";
import { PHOENIX_BUS } from "../stack";
import {
  drawQuarantineFault,
  QUARANTINE_FAULT_KINDS,
  type QuarantineFault,
  shapeSuspects,
} from "./quarantine-faults";

/** The faults drawn for every run. */
const BASE_FAULT_KINDS = [
  "throttling",
  "insufficient-capacity",
  "silent-instances",
  "bad-image",
  "task-error",
  "task-timeout",
  "duplicate-delivery",
  "out-of-order",
  "concurrent-trigger",
  "scaling-policy",
  "az-rebalance",
  "quarantine",
  "stop-execution",
  "execution-timeout",
] as const;
/** Every kind of fault the campaign injects (a suspect's shapes come with a quarantine, drawn on their own). */
export const FAULT_KINDS = [...BASE_FAULT_KINDS, ...QUARANTINE_FAULT_KINDS] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** How the work starts: an operator, a golden image, or the scheduled age sweep. */
export type Trigger = "manual" | "image-event" | "age-sweep";

/** One fault of a run, with what it needs to happen (when, how much, to what). */
export type Fault =
  | { kind: "throttling"; share: number }
  | { kind: "insufficient-capacity"; launches: number }
  | { kind: "silent-instances"; launches: number }
  | { kind: "bad-image" }
  | { kind: "task-error"; nthTask: number; transient: boolean }
  | { kind: "task-timeout"; nthTask: number }
  | { kind: "duplicate-delivery"; copies: number }
  | { kind: "out-of-order"; delaySeconds: number }
  | { kind: "concurrent-trigger" }
  | { kind: "scaling-policy"; atSeconds: number; delta: number }
  | { kind: "az-rebalance"; atSeconds: number }
  | { kind: "quarantine"; atSeconds: number; memberIndex: number }
  /** An operator stops the running replacement (StopExecution): none of its own clean-up runs. */
  | { kind: "stop-execution"; atSeconds: number }
  /** The running replacement reaches its execution timeout (TIMED_OUT): likewise. */
  | { kind: "execution-timeout"; atSeconds: number }
  | QuarantineFault;

/** A drawn run: its seed, the account, the trigger and the faults. */
export interface ChaosRun {
  seed: number;
  trigger: Trigger;
  scenario: Scenario;
  faults: Fault[];
  /** The managed groups, in channel wave order. */
  groupNames: string[];
  /** The image the run rolls onto (the target version's), and a newer one for out-of-order events. */
  images: { current: string; target: string; newer: string };
}

/** The seed of run `index` of a campaign: runs are independent, and any one replays alone. */
export function runSeed(campaignSeed: number, index: number): number {
  const random = new Random((campaignSeed * 2_654_435_761 + index * 40_503) >>> 0);
  random.next();
  return Math.floor(random.next() * 2 ** 31);
}

const pick = <T>(random: Random, items: readonly T[]): T => items[random.int(items.length)] as T;

type BaseFaultKind = (typeof BASE_FAULT_KINDS)[number];

/** Which faults a trigger can meet (event faults need events; a sweep has no new image to be bad). */
function applicableFaults(trigger: Trigger): BaseFaultKind[] {
  return BASE_FAULT_KINDS.filter((kind) => {
    if (kind === "duplicate-delivery" || kind === "out-of-order") return trigger === "image-event";
    if (kind === "bad-image") return trigger !== "age-sweep";
    return true;
  });
}

/** A rollout policy a user could set: surge, floor, canary, processes Phoenix suspends. */
function drawPolicy(random: Random, desired: number) {
  let maxSurgePercent = pick(random, [0, 25, 50, 100]);
  let minHealthyPercent = pick(random, [50, 75, 90, 100]);
  // A policy with neither surge nor room below the floor is refused at plan time (tested elsewhere).
  if (maxSurgePercent === 0 && Math.ceil((desired * minHealthyPercent) / 100) >= desired) {
    if (random.chance(0.5)) maxSurgePercent = 25;
    else minHealthyPercent = 50;
  }
  return {
    maxSurgePercent,
    minHealthyPercent,
    canary: random.chance(0.4),
    readiness: { pollSeconds: 10, timeoutSeconds: pick(random, [300, 600]) },
    // Sometimes leave AZRebalance running, so rebalancing can meet a rollout.
    suspendProcesses: random.chance(0.7) ? ["AZRebalance", "ScheduledActions"] : ["ScheduledActions"],
  };
}

const IMAGES = {
  current: "ami-0c1d2e3f4a5b60001",
  target: "ami-0c1d2e3f4a5b60002",
  newer: "ami-0c1d2e3f4a5b60003",
};

/**
 * The suspect a run's quarantine meets has every shape at once (Spot, instance-store root, volumes under
 * customer-managed keys, Elastic IP with public and IPv6 sessions, in a VPC where new groups take a while to
 * be seen): the hardest one. Each shape alone is a scenario of its own (local/scenarios/quarantine-*.json).
 */
function drawSuspectShapes(seed: number): QuarantineFault[] {
  const random = new Random((seed ^ 0x5a17ed) >>> 0);
  return QUARANTINE_FAULT_KINDS.map((kind) => drawQuarantineFault(kind, random));
}

/** Draws run `seed`: the same seed always gives the same run. */
export function drawRun(seed: number): ChaosRun {
  const random = new Random(seed);
  const trigger: Trigger = pick(random, ["manual", "manual", "image-event", "age-sweep"] as const);
  const groupCount = trigger === "manual" ? 1 : random.chance(0.4) ? 2 : 1;
  const kinds = applicableFaults(trigger);
  const faultCount = pick(random, [0, 1, 1, 2, 2, 3]);
  const chosen = new Set<BaseFaultKind>();
  while (chosen.size < faultCount) chosen.add(pick(random, kinds));

  const groups = Array.from({ length: groupCount }, (_, index) => {
    const desired = 2 + random.int(11);
    const minSize = Math.max(0, desired - random.int(3));
    const maxSize = desired + random.int(5);
    const policy = drawPolicy(random, desired);
    return { name: `app${index}`, desired, minSize, maxSize, policy, wave: index };
  });
  const faults: Fault[] = [...chosen].map((kind): Fault => {
    switch (kind) {
      case "throttling":
        return { kind, share: pick(random, [0.02, 0.05, 0.1]) };
      case "insufficient-capacity":
        return { kind, launches: 1 + random.int(4) };
      case "silent-instances":
        return { kind, launches: 1 + random.int(2) };
      case "bad-image":
        return { kind };
      case "task-error":
        return { kind, nthTask: 2 + random.int(16), transient: random.chance(0.5) };
      case "task-timeout":
        return { kind, nthTask: 2 + random.int(16) };
      case "duplicate-delivery":
        return { kind, copies: 1 + random.int(2) };
      case "out-of-order":
        // Sometimes while the newer image still rolls, sometimes long after it finished.
        return { kind, delaySeconds: pick(random, [30, 120, 900, 1800]) };
      case "concurrent-trigger":
        return { kind };
      case "scaling-policy":
        return { kind, atSeconds: 10 + random.int(240), delta: pick(random, [-2, -1, 1, 2, 3]) };
      case "az-rebalance":
        return { kind, atSeconds: 10 + random.int(240) };
      case "quarantine":
        return { kind, atSeconds: random.int(200), memberIndex: random.int(2) };
      case "stop-execution":
      case "execution-timeout":
        // Anywhere in a rollout: before, during or after a wave retired its old instances.
        return { kind, atSeconds: 15 + random.int(500) };
      default:
        throw new Error(`no fault ${kind satisfies never}`);
    }
  });
  // A run with a quarantine meets a suspect of every shape, drawn from a stream of its own so that the rest
  // of every run is drawn as before.
  if (chosen.has("quarantine")) faults.push(...drawSuspectShapes(seed));
  const badImage = chosen.has("bad-image");
  // The sweep's budgets, so that they bind: tight rate budgets, few groups at once, a minimum age, windows
  // open or closed at the start (09:00 UTC on a Monday), and a second sweep half an hour later.
  const sweep = {
    rateBudget: pick(random, ["50/1h", "3/1h", "2/30m"]),
    maxConcurrentGroups: pick(random, ["1", "2"]),
    minAge: pick(random, ["1h", "40h"]),
    window: pick(random, [
      undefined,
      "daily 08:00-12:00 UTC",
      "Mon-Fri 02:00-05:00 Europe/Berlin",
      "Sat,Sun 22:00-06:00 America/New_York",
    ]),
    groupBudget: random.chance(0.3) ? "2/1h" : undefined,
    times: pick(random, [1, 2]),
  };
  const oldHours = trigger === "age-sweep" ? [30, 300] : [2, 200];
  const scenario = ScenarioSchema.parse({
    name: `chaos-${seed}`,
    seed,
    startTime: "2026-11-23T09:00:00Z",
    images: [
      { imageId: IMAGES.current, name: "golden-1" },
      { imageId: IMAGES.target, name: "golden-2", good: !badImage },
      { imageId: IMAGES.newer, name: "golden-3" },
    ],
    // Every instance has a role (a quarantine then has credentials to revoke): a setting, not a draw.
    launchTemplates: [
      {
        name: "app",
        versions: [IMAGES.current, IMAGES.target],
        defaultVersion: 1,
        instanceProfile: "app",
        ...MANAGED_LAUNCH_TEMPLATE,
      },
    ],
    targetGroups: [
      {
        name: "app",
        tags: MANAGED_TAGS,
        healthCheckIntervalSeconds: 5,
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
        deregistrationDelaySeconds: pick(random, [10, 30]),
      },
    ],
    groups: groups.map((group) => ({
      name: group.name,
      launchTemplate: "app",
      version: "1",
      minSize: group.minSize,
      maxSize: group.maxSize,
      desiredCapacity: group.desired,
      availabilityZones: random.chance(0.5)
        ? ["us-east-1a", "us-east-1b"]
        : ["us-east-1a", "us-east-1b", "us-east-1c"],
      targetGroups: ["app"],
      healthCheckGracePeriod: 180,
      tags: {
        "phoenix:managed": "true",
        "phoenix:image-channel": "app",
        "phoenix:wave": String(group.wave),
        "phoenix:max-age": "1d",
        "phoenix:policy": JSON.stringify(group.policy),
        ...(trigger === "age-sweep" && sweep.groupBudget ? { "phoenix:rate-budget": sweep.groupBudget } : {}),
      },
      instances: [{ count: group.desired, launchTemplateVersion: "1", ageHours: oldHours }],
    })),
    settings:
      trigger === "age-sweep"
        ? {
            PHOENIX_RATE_BUDGET: sweep.rateBudget,
            PHOENIX_MAX_CONCURRENT_GROUPS: sweep.maxConcurrentGroups,
            PHOENIX_MIN_AGE: sweep.minAge,
            PHOENIX_DEADLINE_GRACE: "3d",
            PHOENIX_MAINTENANCE_WINDOW: sweep.window ?? "",
          }
        : { PHOENIX_RATE_BUDGET: "50/1h", PHOENIX_MAX_CONCURRENT_GROUPS: "2", PHOENIX_MIN_AGE: "1h" },
    run:
      trigger === "manual"
        ? {
            stateMachine: "replace-group",
            input: {
              groupName: "app0",
              reason: "new-image",
              targetVersion: "2",
              requestedBy: "chaos",
              policy: groups[0]?.policy,
            },
            expect: [{ stateMachine: "replace-group", status: "SUCCEEDED" }],
          }
        : trigger === "image-event"
          ? {
              events: [
                {
                  // An image pipeline on Phoenix's bus.
                  eventBusName: PHOENIX_BUS,
                  source: "phoenix.publisher",
                  detailType: "Image Published",
                  detail: { imageId: IMAGES.target, channel: "app" },
                },
              ],
              expect: [{ stateMachine: "image-rollout", status: "SUCCEEDED" }],
            }
          : {
              sweep: { times: sweep.times, everySeconds: 1800 },
              expect: [{ stateMachine: "replace-group", status: "SUCCEEDED" }],
            },
  });
  shapeSuspects(scenario, faults);
  return {
    seed,
    trigger,
    scenario,
    faults,
    groupNames: groups.map((group) => group.name),
    images: IMAGES,
  };
}
