// `npm run chaos -- --runs 500 --seed 7`: the fault-injection campaign on the embedded simulated AWS.
// `npm run chaos -- --replay <run seed>` replays one run with its timeline.
import "./env";
import { Command } from "commander";
import { type CampaignResult, type RunResult, runCampaign, runChaos } from "./chaos/campaign";
import { drawRun, FAULT_KINDS } from "./chaos/generate";
import { INVARIANTS, type InvariantName } from "./chaos/invariants";

const integer = (value: string) => {
  const parsed = Number.parseInt(value, 10);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`not a whole number: ${value}`);
  return parsed;
};

const program = new Command()
  .name("npm run chaos --")
  .description(
    "Randomized runs with injected faults through the real state machines, checking Phoenix's invariants.",
  )
  .option("--runs <n>", "how many runs", integer, 50)
  .option("--seed <n>", "the campaign's seed (the same seed draws the same runs)", integer, 7)
  .option(
    "--replay <run-seed>",
    "replay one run (its seed is printed with every violation), with its timeline",
    integer,
  )
  .option("--json", "print the campaign's results as JSON")
  .parse();

const options = program.opts<{ runs: number; seed: number; replay?: number; json?: boolean }>();

const pad = (text: string | number, width: number) => String(text).padEnd(width);
const padLeft = (text: string | number, width: number) => String(text).padStart(width);

/** The campaign's table: runs, faults by kind, how executions ended, violations with the seed that replays each. */
export function renderCampaign(result: CampaignResult): string[] {
  const { runs } = result;
  const lines = [
    `Chaos campaign: ${runs.length} runs from seed ${result.seed}, ${runs.reduce((sum, run) => sum + run.simulatedSeconds, 0) / 3600 > 1 ? `${(runs.reduce((sum, run) => sum + run.simulatedSeconds, 0) / 3600).toFixed(1)} h` : `${Math.round(runs.reduce((sum, run) => sum + run.simulatedSeconds, 0) / 60)} min`} simulated in ${result.wallSeconds.toFixed(1)} s`,
    "",
    `${pad("trigger", 24)}${padLeft("runs", 6)}`,
  ];
  for (const trigger of ["manual", "image-event", "age-sweep"] as const)
    lines.push(`${pad(trigger, 24)}${padLeft(runs.filter((run) => run.trigger === trigger).length, 6)}`);
  lines.push("", `${pad("fault", 24)}${padLeft("runs", 6)}${padLeft("injected", 10)}`);
  for (const kind of FAULT_KINDS) {
    const withIt = runs.filter((run) => run.faults.includes(kind));
    const injected = runs.reduce((sum, run) => sum + (run.injected[kind] ?? 0), 0);
    lines.push(`${pad(kind, 24)}${padLeft(withIt.length, 6)}${padLeft(injected, 10)}`);
  }
  lines.push(`${pad("(none)", 24)}${padLeft(runs.filter((run) => run.faults.length === 0).length, 6)}`);
  const results = ["completed", "rolled back", "skipped", "refused", "failed"] as const;
  lines.push("", `${pad("executions", 24)}${results.map((name) => padLeft(name, 13)).join("")}`);
  const machines = [
    ...new Set(runs.flatMap((run) => run.executions.map((execution) => execution.stateMachine))),
  ];
  for (const machine of machines.sort()) {
    const executions = runs.flatMap((run) =>
      run.executions.filter((execution) => execution.stateMachine === machine),
    );
    lines.push(
      `${pad(machine, 24)}${results.map((name) => padLeft(executions.filter((execution) => execution.result === name).length, 13)).join("")}`,
    );
  }
  const failures = new Map<string, number>();
  for (const execution of runs.flatMap((run) => run.executions)) {
    if (execution.result !== "completed" && execution.result !== "skipped" && execution.error) {
      const key = `${execution.stateMachine} ${execution.error}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
  }
  if (failures.size > 0) {
    lines.push("", "not completed, by error:");
    for (const [key, n] of [...failures].sort((a, b) => b[1] - a[1]))
      lines.push(`  ${pad(key, 62)}${padLeft(n, 6)}`);
  }
  const violations = runs.flatMap((run) => run.violations.map((violation) => ({ run, violation })));
  lines.push("", `${pad("invariant", 68)}${padLeft("violations", 11)}`);
  for (const [name, text] of Object.entries(INVARIANTS)) {
    const n = violations.filter(({ violation }) => violation.invariant === (name as InvariantName)).length;
    lines.push(`${pad(text, 68)}${padLeft(n, 11)}`);
  }
  if (violations.length > 0) {
    lines.push("");
    for (const { run, violation } of violations.slice(0, 40)) {
      lines.push(
        `VIOLATION ${violation.invariant} in run ${run.seed} (${run.trigger}; ${run.faults.join(", ") || "no faults"}) ` +
          `${violation.groupName ?? ""} at ${new Date(violation.at).toISOString().slice(11, 19)}: ${violation.detail}  replay: npm run chaos -- --replay ${run.seed}`,
      );
    }
    if (violations.length > 40) lines.push(`... and ${violations.length - 40} more`);
  }
  lines.push(
    "",
    violations.length === 0 ? "No invariant violated." : `${violations.length} invariant violations.`,
  );
  return lines;
}

function renderRun(result: RunResult): string[] {
  return [
    "",
    `run ${result.seed}: ${result.trigger}; faults ${result.faults.join(", ") || "none"}; injected ${JSON.stringify(result.injected)}`,
    ...result.executions.map(
      (execution) =>
        `  ${execution.stateMachine} ${execution.name}: ${execution.result}${execution.error ? ` (${execution.error})` : ""}`,
    ),
    ...result.violations.map(
      (violation) =>
        `  VIOLATION ${violation.invariant} ${violation.groupName ?? ""} at ${new Date(violation.at).toISOString().slice(11, 19)}: ${violation.detail}`,
    ),
    result.violations.length === 0 ? "  no invariant violated" : "",
  ];
}

async function main(): Promise<void> {
  if (options.replay !== undefined) {
    const run = drawRun(options.replay);
    console.log(`replaying run ${run.seed}: ${run.trigger}; faults ${JSON.stringify(run.faults)}`);
    const result = await runChaos(run, (line) => console.log(line));
    console.log(renderRun(result).join("\n"));
    process.exitCode = result.violations.length === 0 ? 0 : 1;
    return;
  }
  const tty = process.stderr.isTTY === true;
  const result = await runCampaign(options.seed, options.runs, (done, run) => {
    if (tty)
      process.stderr.write(
        `\r${done}/${options.runs} runs${run.violations.length ? " (violation!)" : ""}   `,
      );
  });
  if (tty) process.stderr.write("\n");
  console.log(options.json ? JSON.stringify(result, null, 2) : renderCampaign(result).join("\n"));
  process.exitCode = result.runs.some((run) => run.violations.length > 0) ? 1 : 0;
}

await main();
