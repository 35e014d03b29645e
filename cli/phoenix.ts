// The `phoenix` command for operators and incident responders (npm run phoenix -- <command>). Every command
// works against the deployed stack (your AWS profile) or, with --local, against the embedded simulated
// account of a scenario.
import "../local/env";
import { deployedBackend, localBackend } from "./backends";
import { runPhoenix } from "./program";

process.exitCode = await runPhoenix(
  process.argv.slice(2),
  {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  },
  async (target) => (target.local ? localBackend(target.scenario) : deployedBackend(target.stage)),
);
