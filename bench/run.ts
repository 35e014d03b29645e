// `npm run bench`: Phoenix's speed and cost, measured. Prints tables and writes bench/results.json
// (`--quick`, a smaller run for checking that the benchmark works, writes bench/results.quick.json).
// Rotation figures come from the simulator (simulated time, the real state machine and handlers); sweep
// scale and cold starts are measured on this machine in fresh Node processes.
import "../local/env";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { REPO_ROOT } from "../local/stack";
import { type ColdStart, measureColdStarts } from "./cold-start";
import {
  DEFAULT_POLICY,
  lowerBoundSeconds,
  POLICIES,
  type Rotation,
  rotate,
  TIMING,
  waveSize,
} from "./makespan";

const program = new Command()
  .name("bench")
  .description("Rotation makespan against its lower bound, control-plane cost, sweep scale, cold start")
  .option("--quick", "a small run (10-instance groups, a small sweep, 3 samples of 3 functions)", false)
  .parse();
const quick = program.opts<{ quick: boolean }>().quick;
const resultsFile = path.join(REPO_ROOT, "bench", quick ? "results.quick.json" : "results.json");
const command = quick ? "npm run bench -- --quick" : "npm run bench";

// Public prices, us-east-1, November 2026.
const PRICES = {
  stepFunctionsPerTransition: 0.025 / 1000,
  lambdaPerGbSecondArm: 0.0000133334,
  lambdaPerRequest: 0.2 / 1_000_000,
  dynamoDbPerWrite: 0.625 / 1_000_000,
  dynamoDbPerRead: 0.125 / 1_000_000,
  eventBridgePerEvent: 1 / 1_000_000,
};
const LAMBDA_MEMORY_GB = 256 / 1024;
const DYNAMODB_WRITES = new Set([
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "TransactWriteItems",
  "BatchWriteItem",
]);
const ACCOUNT_DESCRIBE_INSTANCES_PER_SECOND = 20;
const CONCURRENT_GROUPS = 500;

const sizes = quick ? [10] : [10, 100, 1000];
const FINE_POLL = 5;
const COARSE_POLL = 15;

function table(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  for (const [index, row] of cells.entries()) {
    console.log(row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join("  "));
    if (index === 0) console.log(widths.map((width) => "-".repeat(width)).join("  "));
  }
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** DESIGN.md's bound with T_ready as the simulated account delivered it in this run (see makespan.ts). */
function boundOf(rotation: Rotation, size: number): { boundSeconds: number; readySeconds: number } {
  const readySeconds = sum(rotation.waveReadySeconds) / Math.max(1, rotation.waveReadySeconds.length);
  const waves = Math.ceil(rotation.instances / size);
  const launchRateFloor = Math.max(0, (rotation.instances - 1000) / 2);
  return {
    readySeconds,
    boundSeconds: Math.max(waves * readySeconds + TIMING.deregistrationDelaySeconds, launchRateFloor),
  };
}

/** API calls, Step Functions transitions, Lambda use and their price, for one rotation. */
function costOf(rotation: Rotation) {
  const byOperation = Object.fromEntries(
    [...rotation.apiCalls.entries()].sort(([a], [b]) => a.localeCompare(b)),
  );
  const calls = sum(Object.values(byOperation));
  const gbSeconds = (rotation.outcome.lambdaMilliseconds / 1000) * LAMBDA_MEMORY_GB;
  let dynamoWrites = 0;
  let dynamoReads = 0;
  let events = 0;
  for (const [operation, count] of rotation.apiCalls) {
    const [service, name] = operation.split(":");
    if (service === "dynamodb") {
      if (DYNAMODB_WRITES.has(name ?? "")) dynamoWrites += count;
      else dynamoReads += count;
    }
    if (operation === "events:PutEvents") events += count;
  }
  const dollars =
    rotation.outcome.stateTransitions * PRICES.stepFunctionsPerTransition +
    gbSeconds * PRICES.lambdaPerGbSecondArm +
    rotation.outcome.lambdaInvocations * PRICES.lambdaPerRequest +
    dynamoWrites * PRICES.dynamoDbPerWrite +
    dynamoReads * PRICES.dynamoDbPerRead +
    events * PRICES.eventBridgePerEvent;
  const describeInstances = rotation.apiCalls.get("ec2:DescribeInstances") ?? 0;
  return {
    apiCalls: calls,
    apiCallsPerInstance: calls / rotation.instances,
    byOperation,
    stateTransitions: rotation.outcome.stateTransitions,
    lambdaInvocations: rotation.outcome.lambdaInvocations,
    lambdaGbSeconds: gbSeconds,
    dollarsPer1000Instances: (dollars / rotation.instances) * 1000,
    describeInstancesPerSecond: describeInstances / rotation.makespanSeconds,
  };
}

async function makespanSection() {
  console.log(`\n## Rotation makespan against the lower bound (simulated; ${command})`);
  console.log(
    `Bound: ceil(N/B) x T_ready + T_drain (DESIGN.md), T_ready = each wave's launch-to-healthy time as the simulated AWS delivered it; health checks ${TIMING.healthCheckIntervalSeconds} s x ${TIMING.healthyThresholdCount}, boot ${TIMING.bootSeconds.join("-")} s, draining ${TIMING.deregistrationDelaySeconds} s.`,
  );
  const rows = [];
  for (const instances of sizes) {
    for (const policy of POLICIES) {
      const size = waveSize(instances, policy);
      const fine = await rotate(instances, policy, FINE_POLL);
      const coarse = await rotate(instances, policy, COARSE_POLL);
      const { boundSeconds, readySeconds } = boundOf(fine, size);
      rows.push({
        instances,
        policy: policy.label,
        waveSize: size,
        waves: fine.waves,
        readySeconds,
        boundSeconds,
        modelBoundSeconds: lowerBoundSeconds(instances, size),
        makespanSeconds: fine.makespanSeconds,
        ratio: fine.makespanSeconds / boundSeconds,
        pollSeconds: FINE_POLL,
        coarsePoll: {
          pollSeconds: COARSE_POLL,
          makespanSeconds: coarse.makespanSeconds,
          ratio: coarse.makespanSeconds / boundOf(coarse, size).boundSeconds,
          extraSeconds: coarse.makespanSeconds - fine.makespanSeconds,
        },
        historyEvents: fine.outcome.historyEvents,
        cost: costOf(fine),
      });
    }
  }
  table(
    [
      "N",
      "policy",
      "B",
      "waves",
      "T_ready s",
      "bound s",
      `makespan s (poll ${FINE_POLL})`,
      "ratio",
      `poll ${COARSE_POLL}: s`,
      "ratio",
      "cost of polling",
    ],
    rows.map((row) => [
      row.instances,
      row.policy,
      row.waveSize,
      row.waves,
      row.readySeconds.toFixed(1),
      row.boundSeconds.toFixed(0),
      row.makespanSeconds.toFixed(0),
      row.ratio.toFixed(3),
      row.coarsePoll.makespanSeconds.toFixed(0),
      row.coarsePoll.ratio.toFixed(3),
      `+${row.coarsePoll.extraSeconds.toFixed(0)} s`,
    ]),
  );
  const worst = Math.max(...rows.map((row) => row.ratio));
  console.log(`Worst ratio at poll ${FINE_POLL} s: ${worst.toFixed(3)} (target <= 1.10).`);
  return rows;
}

function costSection(rows: Awaited<ReturnType<typeof makespanSection>>) {
  console.log(`\n## Control-plane cost per replaced instance (simulated, poll ${FINE_POLL} s; ${command})`);
  table(
    [
      "N",
      "policy",
      "API calls",
      "per instance",
      "SFN transitions",
      "Lambda invocations",
      "GB-s",
      "$ per 1000 instances",
      `DescribeInstances/s x ${CONCURRENT_GROUPS}`,
    ],
    rows.map((row) => [
      row.instances,
      row.policy,
      row.cost.apiCalls,
      row.cost.apiCallsPerInstance.toFixed(2),
      row.cost.stateTransitions,
      row.cost.lambdaInvocations,
      row.cost.lambdaGbSeconds.toFixed(2),
      row.cost.dollarsPer1000Instances.toFixed(3),
      (row.cost.describeInstancesPerSecond * CONCURRENT_GROUPS).toFixed(1),
    ]),
  );
  const totalCalls = sum(rows.map((row) => row.cost.apiCalls));
  const totalInstances = sum(rows.map((row) => row.instances));
  const amortized = totalCalls / totalInstances;
  const worstRate = Math.max(...rows.map((row) => row.cost.describeInstancesPerSecond * CONCURRENT_GROUPS));
  console.log(
    `Amortized over every row: ${amortized.toFixed(2)} API calls per replaced instance (target <= 3). ${CONCURRENT_GROUPS} groups replacing at once would need at most ${worstRate.toFixed(1)} DescribeInstances/s sustained, against the account's ${ACCOUNT_DESCRIBE_INSTANCES_PER_SECOND}/s.`,
  );
  console.log(
    "Prices: Step Functions Standard $0.025/1k transitions, Lambda arm64 $0.0000133334/GB-s + $0.20/M requests (256 MB), DynamoDB on-demand $0.625/M writes + $0.125/M reads, EventBridge $1/M events; EC2, Auto Scaling and ELB API calls are free; CloudWatch Logs and metrics not included.",
  );
  return { amortizedCallsPerInstance: amortized, describeInstancesPerSecondAt500Groups: worstRate };
}

async function historySection() {
  const counts = quick ? [100] : [100, 2000];
  console.log(`\n## Step Functions history events per execution, default policy (simulated; ${command})`);
  const rows = [];
  for (const instances of counts) {
    const rotation = await rotate(instances, DEFAULT_POLICY, 15);
    rows.push({ instances, waves: rotation.waves, historyEvents: rotation.outcome.historyEvents });
  }
  table(
    ["N", "waves", "history events", "limit"],
    rows.map((row) => [row.instances, row.waves, row.historyEvents, 25_000]),
  );
  return rows;
}

function sweepSection() {
  const [instances, groups] = quick ? [5_000, 100] : [100_000, 2_000];
  console.log(
    `\n## Sweep scale: plan an age sweep over ${instances} instances in ${groups} groups (${command})`,
  );
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", path.join(REPO_ROOT, "bench", "sweep-scale.ts"), String(instances), String(groups)],
    { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } },
  );
  if (child.status !== 0) throw new Error(`sweep-scale failed: ${child.stderr}`);
  const result = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}");
  table(
    ["instances", "groups", "CPU s", "peak RSS MB", "due", "replacing now"],
    [
      [
        result.instances,
        result.groups,
        result.cpuSeconds.toFixed(3),
        result.peakRssMegabytes.toFixed(0),
        result.instancesDue,
        `${result.instancesToReplace} in ${result.groupsReplacing} groups`,
      ],
    ],
  );
  console.log(
    "Targets: under 1 s CPU, under 256 MB peak (the whole process: Node, tsx, the inventory and the plan).",
  );
  return result;
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
  const largest = Math.max(...results.map((result) => result.bundleBytes));
  const slowest = Math.max(...results.map((result) => result.initMedianMs));
  console.log(
    `Largest bundle ${largest.toLocaleString("en-US")} bytes (target < 500 KiB = 512,000 bytes), slowest median init ${slowest.toFixed(1)} ms (target < 150).`,
  );
  return results;
}

const started = Date.now();
const makespan = await makespanSection();
const cost = costSection(makespan);
const history = await historySection();
const sweep = sweepSection();
const coldStart = await coldStartSection();
writeFileSync(
  resultsFile,
  `${JSON.stringify(
    {
      command,
      node: process.version,
      measuredAt: new Date().toISOString(),
      timing: TIMING,
      makespan,
      cost,
      history,
      sweep,
      coldStart,
    },
    null,
    2,
  )}\n`,
);
console.log(
  `\nWrote ${path.relative(REPO_ROOT, resultsFile)} in ${((Date.now() - started) / 1000).toFixed(0)} s.`,
);
