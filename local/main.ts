// `npm start`: runs a scenario on the embedded simulated AWS through the real state machines and the real
// handlers, printing a live timeline and a summary. No AWS account, credentials or network are used.
import "./env";
import { Command, InvalidArgumentError } from "commander";
import { loadScenario } from "./scenario";
import { runScenario, type ScenarioReport } from "./scenario-run";
import { formatDuration, LINE_WIDTH, wrap } from "./timeline";

/** A seed is a whole number: anything else is refused rather than run as NaN. */
function parseSeed(value: string): number {
  if (!/^-?\d{1,15}$/.test(value.trim())) throw new InvalidArgumentError("a seed is a whole number");
  return Number(value);
}

const program = new Command()
  .name("npm start --")
  .description("Run Phoenix on a simulated AWS account (no AWS account needed).")
  .option(
    "-s, --scenario <name-or-file>",
    "a scenario in local/scenarios, or a path to a scenario file",
    "default",
  )
  .option("--seed <n>", "override the scenario's random seed (a whole number)", parseSeed)
  .option("-q, --quiet", "print only the summary")
  .option("--json", "print the summary as JSON")
  .addHelpText("after", "\nExit codes: 0 ended as the scenario expects, 1 it did not, 2 bad input.")
  // Bad input (an unknown option, a seed that is not a number) exits 2, as the phoenix command does.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .parse();

/** Prints a line within LINE_WIDTH characters, continuation lines indented by `indent`. */
function print(text: string, indent = 13): void {
  const [first, ...rest] = wrap(text, LINE_WIDTH - indent);
  console.log(first);
  for (const line of rest) console.log(`${" ".repeat(indent)}${line}`);
}

const options = program.opts<{ scenario: string; seed?: number; quiet?: boolean; json?: boolean }>();

function printReport(report: ScenarioReport): void {
  console.log("");
  for (const execution of report.executions) {
    const what =
      execution.status === "SUCCEEDED"
        ? "succeeded"
        : `${execution.status.toLowerCase()}: ${execution.error}: ${execution.cause}`;
    print(`${execution.stateMachine} ${execution.name}: ${what}`, 2);
  }
  console.log(
    `  time:      ${formatDuration(report.simulatedSeconds)} simulated, ${report.wallSeconds.toFixed(1)}s wall`,
  );
  for (const group of report.groups) {
    print(
      `  ${group.groupName}: lowest healthy in service ${group.lowestHealthyInService} (floor ${group.floor}), peak ${group.peakInstances} instances;` +
        ` version ${group.before.version} -> ${group.after.version}; min/max/desired ${group.before.min}/${group.before.max}/${group.before.desired}` +
        ` -> ${group.after.min}/${group.after.max}/${group.after.desired}; suspended ${group.after.suspendedProcesses.join(", ") || "none"};` +
        ` ${Object.entries(group.after.images)
          .map(([image, count]) => `${count} on ${image}`)
          .join(", ")}`,
    );
  }
  print(
    `  AWS calls: ${report.awsApiCalls.total} (${Object.entries(report.awsApiCalls.byOperation)
      .map(([operation, count]) => `${operation.split(":")[1]} ${count}`)
      .join(", ")})`,
  );
  print(
    `  workflow:  ${report.stepFunctions.stateTransitions} state transitions, ${report.stepFunctions.historyEvents} history events, ${report.lambdaInvocations} Lambda invocations`,
  );
  print(`  events:    ${report.events.join(", ") || "none"}`);
  for (const execution of report.executions) {
    const manifests = (
      execution.output as
        | { manifests?: { instanceId: string; digest: string; manifest: unknown }[] }
        | undefined
    )?.manifests;
    for (const item of manifests ?? []) {
      console.log(`\nEvidence manifest of ${item.instanceId} (sha256 ${item.digest}):`);
      console.log(JSON.stringify(item.manifest, null, 2));
    }
  }
  for (const problem of report.unexpected) print(`  UNEXPECTED: ${problem}`, 4);
  console.log(report.asExpected ? "Ended as the scenario expects." : "Did NOT end as the scenario expects.");
}

async function main(): Promise<number> {
  const scenario = loadScenario(options.scenario);
  if (options.seed !== undefined) scenario.seed = options.seed;
  const quiet = options.quiet || options.json;
  if (!quiet) {
    console.log(`Phoenix on a simulated AWS account: scenario "${scenario.name}" (seed ${scenario.seed})`);
    if (scenario.description) print(scenario.description, 0);
    console.log("");
  }
  const report = await runScenario(scenario, (line) => {
    if (!quiet) console.log(line);
  });
  if (options.json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  return report.asExpected ? 0 : 1;
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
