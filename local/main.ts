// `npm start`: runs a scenario on the embedded simulated AWS through the real state machine and the real
// handlers, printing a live timeline and a summary. No AWS account, credentials or network are used.
import "./env";
import { Command } from "commander";
import { loadScenario } from "./scenario";
import { Simulation } from "./simulation";
import { formatDuration, Timeline } from "./timeline";

// biome-ignore lint/suspicious/noExplicitAny: the execution output is read loosely for the report
type Loose = any;

const program = new Command()
  .name("npm start --")
  .description("Run Phoenix on a simulated AWS account (no AWS account needed).")
  .option(
    "-s, --scenario <name-or-file>",
    "a scenario in local/scenarios, or a path to a scenario file",
    "default",
  )
  .option("--seed <n>", "override the scenario's random seed", (value) => Number.parseInt(value, 10))
  .option("-q, --quiet", "print only the summary")
  .option("--json", "print the summary as JSON")
  .parse();

const options = program.opts<{ scenario: string; seed?: number; quiet?: boolean; json?: boolean }>();

async function main(): Promise<number> {
  const scenario = loadScenario(options.scenario);
  if (options.seed !== undefined) scenario.seed = options.seed;
  const simulation = await Simulation.fromScenario(scenario);
  const { world, observer } = simulation;
  const groupName = String(scenario.run.input.groupName);
  const group = world.requireGroup(groupName);
  const before = {
    version: group.launchTemplate.version,
    min: group.minSize,
    max: group.maxSize,
    desired: group.desiredCapacity,
  };
  const quiet = options.quiet || options.json;
  const print = (line: string) => {
    if (!quiet) console.log(line);
  };

  print(`Phoenix on a simulated AWS account: scenario "${scenario.name}" (seed ${scenario.seed})`);
  if (scenario.description) print(scenario.description);
  print("");
  const timeline = new Timeline(world, groupName, print);
  world.onLog(timeline.onWorldLog);
  const wallStart = performance.now();
  const startedAt = world.clock.now();
  const outcome = await simulation.run(scenario.run.stateMachine, scenario.run.input, {
    onEvent: timeline.onExecutionEvent,
  });
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const simulatedSeconds = (world.clock.now() - startedAt) / 1000;
  await simulation.close();

  const output = outcome.output as Loose;
  const after = world.requireGroup(groupName);
  const members = after.instanceIds
    .map((id) => world.instances.get(id))
    .filter((i) => i && i.lifecycleState === "InService");
  const images = new Map<string, number>();
  for (const member of members) if (member) images.set(member.imageId, (images.get(member.imageId) ?? 0) + 1);
  const calls = [...world.calls].sort((a, b) => b[1] - a[1]);
  const totalCalls = calls.reduce((sum, [, count]) => sum + count, 0);
  const policy = (scenario.run.input.policy ?? {}) as { minHealthyPercent?: number };
  const floor = Math.ceil((before.desired * (policy.minHealthyPercent ?? 100)) / 100);
  const asExpected =
    outcome.status === scenario.run.expect &&
    (!scenario.run.expectError || outcome.error === scenario.run.expectError);

  const summary = {
    scenario: scenario.name,
    status: outcome.status,
    error: outcome.error,
    cause: outcome.cause,
    expected: scenario.run.expect + (scenario.run.expectError ? ` (${scenario.run.expectError})` : ""),
    asExpected,
    instancesReplaced: output?.instancesReplaced ?? 0,
    waves: output?.waves ?? 0,
    simulatedSeconds: Math.round(simulatedSeconds),
    estimatedSeconds: output?.estimatedSeconds,
    wallSeconds: Number(wallSeconds.toFixed(2)),
    lowestHealthyInService: observer.lowestHealthy(groupName),
    floor,
    peakInstances: observer.peakActive(groupName),
    groupBefore: before,
    groupAfter: {
      version: after.launchTemplate.version,
      min: after.minSize,
      max: after.maxSize,
      desired: after.desiredCapacity,
      suspendedProcesses: [...after.suspendedProcesses],
      images: Object.fromEntries(images),
    },
    awsApiCalls: { total: totalCalls, byOperation: Object.fromEntries(calls) },
    stepFunctions: { stateTransitions: outcome.stateTransitions, historyEvents: outcome.historyEvents },
    lambdaInvocations: outcome.lambdaInvocations,
    events: world.events.map((event) => event.detailType),
  };

  if (options.json) {
    console.log(JSON.stringify(summary, null, 2));
    return asExpected ? 0 : 1;
  }
  console.log("");
  const headline =
    outcome.status === "SUCCEEDED"
      ? `Replacement completed: ${summary.instancesReplaced} instances replaced in ${summary.waves} waves.`
      : `Replacement ${outcome.error === "ReplacementRolledBack" ? "rolled back" : "failed"}: ${outcome.error}: ${outcome.cause}`;
  console.log(headline);
  console.log(
    `  time:      ${formatDuration(simulatedSeconds)} simulated${summary.estimatedSeconds ? ` (plan estimate ${formatDuration(summary.estimatedSeconds)})` : ""}, ${wallSeconds.toFixed(1)}s wall`,
  );
  console.log(
    `  capacity:  lowest healthy in service ${summary.lowestHealthyInService} (floor ${floor}), peak instances ${summary.peakInstances} (desired ${before.desired})`,
  );
  console.log(
    `  group:     before: version ${before.version}, min ${before.min}, max ${before.max}, desired ${before.desired}` +
      `\n             after:  version ${after.launchTemplate.version}, min ${after.minSize}, max ${after.maxSize}, desired ${after.desiredCapacity}, ` +
      `suspended ${[...after.suspendedProcesses].join(", ") || "none"}`,
  );
  console.log(`  instances: ${[...images].map(([image, count]) => `${count} on ${image}`).join(", ")}`);
  console.log(
    `  AWS calls: ${totalCalls} (${calls.map(([operation, count]) => `${operation.split(":")[1]} ${count}`).join(", ")})`,
  );
  console.log(
    `  workflow:  ${outcome.stateTransitions} state transitions, ${outcome.historyEvents} history events, ${outcome.lambdaInvocations} Lambda invocations`,
  );
  console.log(`  events:    ${summary.events.join(", ") || "none"}`);
  console.log(
    asExpected
      ? `Ended as the scenario expects (${summary.expected}).`
      : `UNEXPECTED: the scenario expects ${summary.expected}.`,
  );
  return asExpected ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  },
);
