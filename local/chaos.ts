// `npm run chaos -- --runs 500 --seed 7`: the fault-injection campaign on the embedded simulated AWS.
// `npm run chaos -- --replay <run seed>` replays one run with its timeline.
// `npm run chaos -- --sabotage` runs the sabotage catalogue: deliberate bugs the monitor must catch.
//
// Nothing of functions/ is imported before the options are read: the sabotage catalogue installs its module
// seams first (local/seams), then the rest of the command is imported.
import "./env";
import { Command } from "commander";
import { seamTargets } from "./chaos/sabotage/catalogue";
import { installSeams } from "./seams/install";

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
  .option("--sabotage", "run the sabotage catalogue: each deliberate bug must be caught by its invariant")
  .option("--only <names...>", "with --sabotage: only these sabotages")
  .option("--json", "print the results as JSON")
  .parse();

const options = program.opts<{
  runs: number;
  seed: number;
  replay?: number;
  sabotage?: boolean;
  only?: string[];
  json?: boolean;
}>();

if (options.sabotage) installSeams(seamTargets());
const { runChaosCommand } = await import("./chaos/cli");
process.exitCode = await runChaosCommand(options);
