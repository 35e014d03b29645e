// `npm run bench`: Phoenix's speed and cost, measured. Prints tables and writes bench/results.json
// (`--quick`, a smaller run for checking that the benchmark works, writes bench/results.quick.json).
// Rotation figures come from the simulator (simulated time, the real state machine and handlers) and are
// judged against the honest floor (bench/floor.ts); simulator scale, sweep scale, bundle sizes and cold
// starts are measured on this machine, each scale figure in a fresh Node process of its own.
import "../local/env";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { build } from "esbuild";
import { REPO_ROOT } from "../local/stack";
import { packagedBundles } from "./bundles";
import { type ColdStart, measureColdStarts } from "./cold-start";
import { costOf, table } from "./cost";
import { DEFAULT_POLICY, fleet, POLICIES, rotatePhoenix, TIMING } from "./makespan";
import { type SideBySideRow, sideBySideRow, slowedPhoenix } from "./side-by-side";

const program = new Command()
  .name("bench")
  .description(
    "Rotation makespan against the honest floor and Instance Refresh, cost, scale, bundles, cold start",
  )
  .option("--quick", "a small run (10-instance groups, 2 seeds, small scale runs, no packaging)", false)
  .parse();
const quick = program.opts<{ quick: boolean }>().quick;
const resultsFile = path.join(REPO_ROOT, "bench", quick ? "results.quick.json" : "results.json");
const command = quick ? "npm run bench -- --quick" : "npm run bench";

const SIZES = quick ? [10] : [10, 100, 1000];
const SEEDS = quick ? [1, 2] : [1, 2, 3, 4, 5];
const HOLD_SECONDS = 20;
const CONCURRENT_GROUPS = 500;
const ACCOUNT_DESCRIBE_INSTANCES_PER_SECOND = 20;
const fixed = (value: number, digits = 3) => value.toFixed(digits);
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const mean = (values: number[]) => sum(values) / values.length;

async function sideBySideSection(): Promise<SideBySideRow[]> {
  console.log(
    `\n## Rotation: Phoenix, Instance Refresh and the honest floor, ${SEEDS.length} seeds per row (simulated; ${command})`,
  );
  console.log(
    `Floor: the slot-refilling schedule from the scenario's timing model and the simulator's own launch draws (bench/floor.ts), never from a run. Health checks ${TIMING.healthCheckIntervalSeconds} s x ${TIMING.healthyThresholdCount}, boot ${TIMING.bootSeconds.join("-")} s, draining ${TIMING.deregistrationDelaySeconds} s. Phoenix at its default readiness poll; Instance Refresh tuned = the row's Min/MaxHealthyPercentage with the smallest warmup that covers boot, and with warmup 0; defaults = 90%/100%, warmup = the group's 300 s grace period.`,
  );
  const rows: SideBySideRow[] = [];
  for (const instances of SIZES)
    for (const policy of POLICIES) rows.push(await sideBySideRow(instances, policy, SEEDS, console.log));
  const ratio = (stats: { mean: number; worst: number }) => `${fixed(stats.mean)} / ${fixed(stats.worst)}`;
  table(
    [
      "N",
      "policy",
      "B",
      "floor s",
      "Phoenix s",
      "ratio mean/worst",
      "IR tuned s",
      "ratio",
      "IR warmup 0 s",
      "ratio",
      "IR defaults s",
      "ratio",
      "Phoenix / IR tuned",
    ],
    rows.map((row) => [
      row.instances,
      row.policy,
      row.slots,
      fixed(mean(row.floorSeconds), 0),
      fixed(mean(row.phoenix.makespanSeconds), 0),
      ratio(row.phoenix.ratio),
      fixed(mean(row.refreshTuned.makespanSeconds), 0),
      ratio(row.refreshTuned.ratio),
      fixed(mean(row.refreshWarmupZero.makespanSeconds), 0),
      ratio(row.refreshWarmupZero.ratio),
      fixed(mean(row.refreshDefaults.makespanSeconds), 0),
      ratio(row.refreshDefaults.ratio),
      ratio(row.phoenixOverTunedRefresh),
    ]),
  );
  const worst = Math.max(...rows.map((row) => row.phoenix.ratio.worst));
  const meanOfMeans = mean(rows.map((row) => row.phoenix.ratio.mean));
  const slower = rows.filter((row) => row.phoenixOverTunedRefresh.worst > 1.01);
  console.log(
    `Phoenix: worst row ${fixed(worst)}x the floor, mean ${fixed(meanOfMeans)}x (targets 1.05 and 1.03). Slower than tuned Instance Refresh by more than 1% on ${slower.length} of ${rows.length} rows${slower.length ? `: ${slower.map((row) => `${row.instances} ${row.policy}`).join("; ")}` : ""}.`,
  );
  return rows;
}

async function teethSection() {
  const [instances, policy] = quick ? [10, POLICIES[0]] : [100, POLICIES[0]];
  console.log(
    `\n## The floor has teeth: Phoenix holding every launch ${HOLD_SECONDS} s longer (simulated; ${command})`,
  );
  const result = await slowedPhoenix(instances, policy ?? DEFAULT_POLICY, SEEDS, HOLD_SECONDS);
  table(
    ["N", "policy", "Phoenix s", "ratio mean/worst", `held ${HOLD_SECONDS} s: s`, "ratio mean/worst"],
    [
      [
        result.instances,
        result.policy,
        fixed(mean(result.phoenix.makespanSeconds), 0),
        `${fixed(result.phoenix.ratio.mean)} / ${fixed(result.phoenix.ratio.worst)}`,
        fixed(mean(result.slowed.makespanSeconds), 0),
        `${fixed(result.slowed.ratio.mean)} / ${fixed(result.slowed.ratio.worst)}`,
      ],
    ],
  );
  return result;
}

function costSection(rows: SideBySideRow[]) {
  console.log(`\n## Control-plane cost per replaced instance (simulated, seed 1, default poll; ${command})`);
  const costs = rows.map((row) => ({ row, cost: costOf(row.firstRotation, row.instances) }));
  table(
    [
      "N",
      "policy",
      "API calls",
      "per instance",
      "SFN transitions",
      "Lambda invocations",
      "$ per 1000 instances",
      `DescribeInstances/s x ${CONCURRENT_GROUPS}`,
    ],
    costs.map(({ row, cost }) => [
      row.instances,
      row.policy,
      cost.apiCalls,
      fixed(cost.apiCallsPerInstance, 2),
      cost.stateTransitions,
      cost.lambdaInvocations,
      fixed(cost.dollarsPer1000Instances),
      fixed(cost.describeInstancesPerSecond * CONCURRENT_GROUPS, 1),
    ]),
  );
  const amortized = sum(costs.map(({ cost }) => cost.apiCalls)) / sum(rows.map((row) => row.instances));
  const worstRate = Math.max(...costs.map(({ cost }) => cost.describeInstancesPerSecond * CONCURRENT_GROUPS));
  console.log(
    `Amortized over every row: ${fixed(amortized, 2)} API calls per replaced instance (target <= 3). ${CONCURRENT_GROUPS} groups replacing at once would need at most ${fixed(worstRate, 1)} DescribeInstances/s sustained, against the account's ${ACCOUNT_DESCRIBE_INSTANCES_PER_SECOND}/s. Prices: Step Functions $0.025/1k transitions, Lambda arm64 $0.0000133334/GB-s + $0.20/M requests (256 MB), DynamoDB on-demand, EventBridge $1/M.`,
  );
  return {
    amortizedCallsPerInstance: amortized,
    describeInstancesPerSecondAt500Groups: worstRate,
    rows: costs.map(({ row, cost }) => ({ instances: row.instances, policy: row.policy, ...cost })),
  };
}

async function historySection() {
  const counts = quick ? [100] : [100, 2000];
  console.log(`\n## Step Functions history events per execution, default policy (simulated; ${command})`);
  const rows = [];
  for (const instances of counts) {
    const rotation = await rotatePhoenix(fleet(instances, 1), DEFAULT_POLICY, { defaultPolicy: true });
    rows.push({ instances, waves: rotation.waves, historyEvents: rotation.outcome.historyEvents });
  }
  table(
    ["N", "waves", "history events", "limit"],
    rows.map((row) => [row.instances, row.waves, row.historyEvents, 25_000]),
  );
  return rows;
}

/** Runs a script in a fresh Node process and returns its last output line as JSON. */
function childJson(args: string[]): Record<string, number | undefined> {
  const child = spawnSync(process.execPath, args, {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "" },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`${args.join(" ")} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}");
}

function simulatorScaleSection() {
  const instances = quick ? 500 : 5000;
  const script = `node --import tsx bench/sim-scale.ts ${instances}`;
  console.log(`\n## Simulator scale: Phoenix rotates ${instances} instances on the simulator (${script})`);
  const result = childJson(["--import", "tsx", path.join("bench", "sim-scale.ts"), String(instances)]);
  table(
    ["instances", "rotation CPU s", "process CPU s", "wall s", "peak RSS MB", "simulated s"],
    [
      [
        result.instances ?? 0,
        fixed(result.rotationCpuSeconds ?? 0, 2),
        fixed(result.processCpuSeconds ?? 0, 2),
        fixed(result.wallSeconds ?? 0, 1),
        fixed(result.peakRssMegabytes ?? 0, 0),
        fixed(result.simulatedSeconds ?? 0, 0),
      ],
    ],
  );
  console.log("Target: 5,000 instances in under 15 s of CPU.");
  return { command: script, ...result };
}

async function sweepScaleSection() {
  // The sweep as deployed: bench/sweep-scale.ts bundled and minified like a Lambda function, run by plain Node.
  const outfile = path.join(REPO_ROOT, ".esbuild", "bench", "sweep-scale.mjs");
  mkdirSync(path.dirname(outfile), { recursive: true });
  await build({
    entryPoints: [path.join(REPO_ROOT, "bench", "sweep-scale.ts")],
    outfile,
    bundle: true,
    minify: true,
    platform: "node",
    target: "node22",
    format: "esm",
    logLevel: "silent",
  });
  const sizes: [number, number][] = quick
    ? [[5_000, 100]]
    : [
        [250_000, 5_000],
        [1_000_000, 20_000],
      ];
  console.log(
    `\n## Sweep scale: plan an age sweep over a synthetic fleet (bench/sweep-scale.ts, bundled, each in its own process)`,
  );
  const results = sizes.map(([instances, groups]) => {
    const figures = childJson(["--expose-gc", outfile, String(instances), String(groups)]);
    return { figures, command: `node --expose-gc .esbuild/bench/sweep-scale.mjs ${instances} ${groups}` };
  });
  table(
    ["instances", "groups", "planning CPU s", "peak RSS MB", "due"],
    results.map(({ figures }) => [
      figures.instances ?? 0,
      figures.groups ?? 0,
      fixed(figures.cpuSeconds ?? 0),
      fixed(figures.peakRssMegabytes ?? 0, 0),
      figures.instancesDue ?? 0,
    ]),
  );
  console.log(
    "Targets: 250,000 instances in 5,000 groups under 1 s CPU and 256 MB (the whole process); 1,000,000 without a crash.",
  );
  return results.map(({ figures, command }) => ({ command, ...figures }));
}

async function bundleSection() {
  if (quick) return undefined;
  console.log("\n## Bundles as packaged: the code file in each zip `npx osls package` writes");
  const bundles = await packagedBundles();
  const largest = bundles.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  console.log(
    `${bundles.length} functions: ${Math.min(...bundles.map((b) => b.bytes)).toLocaleString("en-US")}-${largest.bytes.toLocaleString("en-US")} bytes; largest ${largest.function} (target: every bundle under 500,000 bytes).`,
  );
  return { command: "npx osls package", bundles };
}

async function coldStartSection(): Promise<ColdStart[]> {
  const samples = quick ? 3 : 20;
  const compareUnbundled = ["planReplacement", "checkWave", "sweepFleet"];
  console.log(
    `\n## Cold start: bundles as deployed, module initialisation in a fresh Node ${process.version} process, median of ${samples} (${command})`,
  );
  const results = await measureColdStarts({
    samples,
    compareUnbundled,
    only: quick ? compareUnbundled : undefined,
  });
  table(
    ["function", "bundle KiB", "init ms (median)", "unbundled SDK: init ms"],
    results.map((result) => [
      result.function,
      (result.bundleBytes / 1024).toFixed(1),
      result.initMedianMs.toFixed(1),
      result.unbundledInitMedianMs === undefined ? "" : result.unbundledInitMedianMs.toFixed(1),
    ]),
  );
  console.log(
    `Slowest median init ${fixed(Math.max(...results.map((result) => result.initMedianMs)), 1)} ms (target < 150).`,
  );
  return results;
}

const started = Date.now();
const sideBySide = await sideBySideSection();
const teeth = await teethSection();
const cost = costSection(sideBySide);
const history = await historySection();
const simulatorScale = simulatorScaleSection();
const sweep = await sweepScaleSection();
const bundles = await bundleSection();
const coldStart = await coldStartSection();
writeFileSync(
  resultsFile,
  `${JSON.stringify(
    {
      command,
      node: process.version,
      machine: { cpus: os.cpus().length, loadAverage: os.loadavg() },
      measuredAt: new Date().toISOString(),
      timing: TIMING,
      seeds: SEEDS,
      sideBySide: sideBySide.map(({ firstRotation: _, ...row }) => row),
      teeth,
      cost,
      history,
      simulatorScale,
      sweep,
      bundles,
      coldStart,
    },
    null,
    2,
  )}\n`,
);
console.log(
  `\nWrote ${path.relative(REPO_ROOT, resultsFile)} in ${((Date.now() - started) / 1000).toFixed(0)} s.`,
);
