// The `phoenix` command for operators and incident responders (npm run phoenix -- <command>). Every command
// works against the deployed stack (your AWS profile), with --here in this process against your account
// (pull mode), or with --local against the embedded simulated account of a scenario.
import "../local/env";
import { checkAwsConfiguration } from "../local/here";
import { deployedBackend, hereBackend, localBackend } from "./backends";
import { runPhoenix } from "./program";

// Ctrl-C during a --here run: the first fails the current step, so the run rolls back and restores the
// group (a dry run simply stops); a second stops at once, leaving the group as it is.
const interrupt = new AbortController();
const stop = new AbortController();
process.on("SIGINT", () => {
  if (!interrupt.signal.aborted) {
    process.stderr.write(
      "\nCtrl-C: stopping at the next step that may stop. A replacement rolls back its current wave and restores the group (clean-up already under way finishes first); a quarantine keeps its isolation and evidence and stops waiting for the replacement; a dry run just stops. Ctrl-C again stops at once, leaving everything as it is.\n",
    );
    interrupt.abort();
  } else if (!stop.signal.aborted) {
    process.stderr.write(
      "\nCtrl-C again: stopping now; the group is left as it is (see `phoenix --help`).\n",
    );
    stop.abort();
  } else process.exit(130);
});

process.exitCode = await runPhoenix(
  process.argv.slice(2),
  {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
    interactive: process.stderr.isTTY === true && !process.env.CI,
  },
  async (target) => {
    if (target.local) return localBackend(target.scenario);
    if (target.here)
      return hereBackend({ table: target.table, interrupt: interrupt.signal, stop: stop.signal });
    // The same check --here makes, before any call: a missing region or credentials is said plainly.
    await checkAwsConfiguration();
    return deployedBackend(target.stage);
  },
);
// Interrupted: report 130 like any shell command stopped by SIGINT, after the rollback has run.
if (interrupt.signal.aborted && process.exitCode === 0) process.exitCode = 130;
process.exit();
