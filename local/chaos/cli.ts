// What `npm run chaos` does once its options are read (local/chaos.ts): a campaign, a replay, or the
// sabotage catalogue. Returns the exit code.
import { runCampaign, runChaos } from "./campaign";
import { drawRun } from "./generate";
import { renderCampaign, renderRun } from "./report";
import { CATALOGUE } from "./sabotage/catalogue";
import { renderCatalogue, replaySabotage, rowPassed, runCatalogue } from "./sabotage/run";

/** The command's options (see local/chaos.ts). */
export interface ChaosOptions {
  runs: number;
  seed: number;
  replay?: number;
  sabotage?: boolean;
  only?: string[];
  json?: boolean;
}

/** Runs what the options ask for; resolves to the exit code. */
export async function runChaosCommand(options: ChaosOptions): Promise<number> {
  const tty = process.stderr.isTTY === true;
  if (options.sabotage && options.replay !== undefined) {
    const sabotage = CATALOGUE.find((item) => item.name === options.only?.[0]);
    if (!sabotage)
      throw new Error(
        `--replay with --sabotage needs --only <one of: ${CATALOGUE.map((item) => item.name).join(", ")}>`,
      );
    const result = await replaySabotage(sabotage, options.replay, (line) => console.log(line));
    console.log(renderRun(result).join("\n"));
    return result.violations.some((violation) => violation.invariant === sabotage.caughtBy) ? 0 : 1;
  }
  if (options.sabotage) {
    const started = performance.now();
    const rows = await runCatalogue(options.only, (row) => {
      if (tty) process.stderr.write(`${row.name}: ${rowPassed(row) ? "caught" : "NOT caught"}\n`);
    });
    const wall = (performance.now() - started) / 1000;
    console.log(
      options.json
        ? JSON.stringify({ rows, wallSeconds: wall }, null, 2)
        : renderCatalogue(rows, wall).join("\n"),
    );
    return rows.every(rowPassed) && rows.length > 0 ? 0 : 1;
  }
  if (options.replay !== undefined) {
    const run = drawRun(options.replay);
    console.log(`replaying run ${run.seed}: ${run.trigger}; faults ${JSON.stringify(run.faults)}`);
    const result = await runChaos(run, (line) => console.log(line));
    console.log(renderRun(result).join("\n"));
    return result.violations.length === 0 ? 0 : 1;
  }
  const result = await runCampaign(options.seed, options.runs, (done, run) => {
    if (tty)
      process.stderr.write(
        `\r${done}/${options.runs} runs${run.violations.length ? " (violation!)" : ""}   `,
      );
  });
  if (tty) process.stderr.write("\n");
  console.log(options.json ? JSON.stringify(result, null, 2) : renderCampaign(result).join("\n"));
  return result.runs.some((run) => run.violations.length > 0) ? 1 : 0;
}
