// `npm start`: runs a scenario on the embedded simulated AWS through the real state machines and the real
// handlers, printing a live timeline and a summary. No AWS account, credentials or network are used.
import "./env";
import { Command } from "commander";
import { loadScenario } from "./scenario";
import { runScenario, type ScenarioReport } from "./scenario-run";
import { formatDuration } from "./timeline";

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

function printReport(report: ScenarioReport): void {
  console.log("");
  for (const execution of report.executions) {
    const what =
      execution.status === "SUCCEEDED"
        ? "succeeded"
        : `${execution.status.toLowerCase()}: ${execution.error}: ${execution.cause}`;
    console.log(`${execution.stateMachine} ${execution.name}: ${what}`);
  }
  console.log(
    `  time:      ${formatDuration(report.simulatedSeconds)} simulated, ${report.wallSeconds.toFixed(1)}s wall`,
  );
  for (const group of report.groups) {
    console.log(
      `  ${group.groupName}: lowest healthy in service ${group.lowestHealthyInService} (floor ${group.floor}), peak ${group.peakInstances} instances;` +
        ` version ${group.before.version} -> ${group.after.version}; min/max/desired ${group.before.min}/${group.before.max}/${group.before.desired}` +
        ` -> ${group.after.min}/${group.after.max}/${group.after.desired}; suspended ${group.after.suspendedProcesses.join(", ") || "none"};` +
        ` ${Object.entries(group.after.images)
          .map(([image, count]) => `${count} on ${image}`)
          .join(", ")}`,
    );
  }
  console.log(
    `  AWS calls: ${report.awsApiCalls.total} (${Object.entries(report.awsApiCalls.byOperation)
      .map(([operation, count]) => `${operation.split(":")[1]} ${count}`)
      .join(", ")})`,
  );
  console.log(
    `  workflow:  ${report.stepFunctions.stateTransitions} state transitions, ${report.stepFunctions.historyEvents} history events, ${report.lambdaInvocations} Lambda invocations`,
  );
  console.log(`  events:    ${report.events.join(", ") || "none"}`);
  console.log(
    `  IAM:       ${report.iam.authorizations} authorizations of Phoenix's calls evaluated against each function's role in the packaged template, ${report.iam.denied.length} denied${report.iam.denied.length > 0 ? `: ${report.iam.denied.join("; ")}` : ""}`,
  );
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
  for (const problem of report.unexpected) console.log(`  UNEXPECTED: ${problem}`);
  console.log(report.asExpected ? "Ended as the scenario expects." : "Did NOT end as the scenario expects.");
}

async function main(): Promise<number> {
  const scenario = loadScenario(options.scenario);
  if (options.seed !== undefined) scenario.seed = options.seed;
  const quiet = options.quiet || options.json;
  if (!quiet) {
    console.log(`Phoenix on a simulated AWS account: scenario "${scenario.name}" (seed ${scenario.seed})`);
    if (scenario.description) console.log(scenario.description);
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
