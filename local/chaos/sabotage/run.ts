// Runs the sabotage catalogue: for each deliberate bug, the fixed seed set's runs of the shape it needs,
// with the bug swapped in, until the monitor reports the invariant that must catch it; then the same run
// without the bug, which must not break that invariant (so the catch is the bug's doing).
import { moduleUrl } from "../../seams/install";
import { isWired, patchState, swapFunction, swapHandler } from "../../seams/registry";
import type { Simulation } from "../../simulation";
import { type RunResult, runChaos } from "../campaign";
import { type ChaosRun, drawRun, runSeed } from "../generate";
import { CATALOGUE } from "./catalogue";
import type { Sabotage, Seam } from "./types";

/** The catalogue's fixed seed set: runs drawn from this campaign seed, in order. */
export const CATALOGUE_SEED = 13;
/** Runs of the right shape tried per sabotage before it counts as missed. */
export const TRIES = 3;

/** One row of the table. */
export interface SabotageRow {
  name: string;
  bug: string;
  seams: string[];
  expected: string;
  caught: boolean;
  /** Every invariant the catching run reported (the expected one among them when caught). */
  reported: string[];
  /** The run that caught it: its seed and how many runs were tried. */
  firstRun?: { seed: number; tries: number };
  /** The same run without the bug kept the expected invariant. */
  baselineClean?: boolean;
  /** Module seams that no wrapper went through (the swap changed nothing: re-point it). */
  unwired: string[];
  detail?: string;
  wallSeconds: number;
}

const describeSeam = (seam: Seam) =>
  "module" in seam
    ? `${seam.module}#${seam.export}`
    : "handler" in seam
      ? `handler ${seam.handler}`
      : `${seam.stateMachine}.asl.json ${seam.state}`;

/** The first `count` runs of the seed set that have the sabotage's shape. */
export function shapedRuns(sabotage: Sabotage, count = TRIES): ChaosRun[] {
  const runs: ChaosRun[] = [];
  for (let index = 0; runs.length < count && index < 50_000; index++) {
    const shaped = sabotage.shape(drawRun(runSeed(CATALOGUE_SEED, index)));
    if (shaped) runs.push(shaped);
  }
  return runs;
}

/** Swaps the sabotage's seams in; returns the function that takes them out. */
function apply(sabotage: Sabotage, sim: Simulation): () => void {
  const undo = sabotage.seams.map((seam) => {
    if ("module" in seam) return swapFunction(moduleUrl(seam.module), seam.export, seam.swap(sim));
    if ("handler" in seam) return swapHandler(seam.handler, seam.swap(sim));
    return patchState(seam.stateMachine, seam.state, seam.patch);
  });
  return () => {
    for (const done of undo) done();
  };
}

const baselines = new Map<string, Promise<RunResult>>();

/** The run without any bug (the same run gives the same result, so sabotages sharing a run share it). */
function baselineOf(run: ChaosRun, setup: Sabotage["setup"]): Promise<RunResult> {
  const key = `${JSON.stringify(run)} ${setup?.name ?? ""}`;
  let result = baselines.get(key);
  if (!result) {
    result = runChaos(run, undefined, setup);
    baselines.set(key, result);
  }
  return result;
}

/** Runs one sabotaged run, with its timeline (the run of `seed`, in the sabotage's shape). */
export async function replaySabotage(
  sabotage: Sabotage,
  seed: number,
  write: (line: string) => void,
): Promise<RunResult> {
  const run = sabotage.shape(drawRun(seed));
  if (!run) throw new Error(`run ${seed} does not have the shape ${sabotage.name} needs`);
  let undo: () => void = () => {};
  try {
    return await runChaos(run, write, async (sim, drawn) => {
      undo = apply(sabotage, sim);
      await sabotage.setup?.(sim, drawn);
    });
  } finally {
    undo();
  }
}

/** Runs one sabotage; the seams are in place only during its sabotaged runs. */
export async function runSabotage(sabotage: Sabotage): Promise<SabotageRow> {
  const started = performance.now();
  const row: SabotageRow = {
    name: sabotage.name,
    bug: sabotage.bug,
    seams: sabotage.seams.map(describeSeam),
    expected: sabotage.caughtBy,
    caught: false,
    reported: [],
    unwired: [],
    wallSeconds: 0,
  };
  const runs = shapedRuns(sabotage);
  if (runs.length === 0) row.detail = "no run of the seed set has the shape it needs";
  let tries = 0;
  let catching: ChaosRun | undefined;
  for (const run of runs) {
    tries++;
    let undo: () => void = () => {};
    let result: RunResult;
    try {
      result = await runChaos(run, undefined, async (sim, drawn) => {
        undo = apply(sabotage, sim);
        await sabotage.setup?.(sim, drawn);
      });
    } finally {
      undo();
    }
    row.reported = [...new Set(result.violations.map((violation) => violation.invariant))];
    const hit = result.violations.find((violation) => violation.invariant === sabotage.caughtBy);
    if (hit) {
      row.caught = true;
      row.firstRun = { seed: run.seed, tries };
      row.detail = hit.detail;
      catching = run;
      break;
    }
  }
  row.unwired = sabotage.seams
    .filter((seam) => "module" in seam && !isWired(moduleUrl(seam.module), seam.export))
    .map(describeSeam);
  if (catching) {
    const baseline = await baselineOf(catching, sabotage.setup);
    row.baselineClean = !baseline.violations.some((violation) => violation.invariant === sabotage.caughtBy);
  }
  row.wallSeconds = (performance.now() - started) / 1000;
  return row;
}

/** Runs the whole catalogue (or the named sabotages), one after another. */
export async function runCatalogue(
  names?: string[],
  progress?: (row: SabotageRow) => void,
): Promise<SabotageRow[]> {
  const rows: SabotageRow[] = [];
  for (const sabotage of CATALOGUE.filter((item) => !names?.length || names.includes(item.name))) {
    const row = await runSabotage(sabotage);
    rows.push(row);
    progress?.(row);
  }
  return rows;
}

/** Whether a row counts as caught: by the right invariant, through a wired seam, and not without the bug. */
export const rowPassed = (row: SabotageRow) =>
  row.caught && row.baselineClean === true && row.unwired.length === 0;

/** The table: sabotage, the invariant that caught it, the first run that did. */
export function renderCatalogue(rows: SabotageRow[], wallSeconds: number): string[] {
  const pad = (text: string | number, width: number) => String(text).padEnd(width);
  const lines = [
    `Sabotage catalogue: ${rows.length} deliberate bugs, runs drawn from seed ${CATALOGUE_SEED} (at most ${TRIES} per bug), ${wallSeconds.toFixed(1)} s`,
    "",
    `${pad("sabotage", 32)}${pad("caught by", 20)}${pad("first run (seed, try)", 26)}${pad("seam", 48)}result`,
  ];
  for (const row of rows) {
    const result = rowPassed(row)
      ? "caught"
      : !row.caught
        ? "MISSED"
        : row.unwired.length > 0
          ? `SEAM NOT WIRED (${row.unwired.join(", ")})`
          : "ALSO WITHOUT THE BUG";
    lines.push(
      `${pad(row.name, 32)}${pad(row.caught ? row.expected : `(${row.expected})`, 20)}${pad(row.firstRun ? `${row.firstRun.seed}, ${row.firstRun.tries}` : "-", 26)}${pad(row.seams.join(" + "), 48)}${result}`,
    );
  }
  const missed = rows.filter((row) => !rowPassed(row));
  lines.push("");
  for (const row of missed)
    lines.push(
      `${row.name}: ${row.bug}; expected ${row.expected}, reported [${row.reported.join(", ")}]${row.detail ? `; ${row.detail}` : ""}`,
    );
  lines.push(
    missed.length === 0
      ? `Every sabotage caught by the invariant it must break (replay one: npm run chaos -- --sabotage --only <name>).`
      : `${missed.length} of ${rows.length} sabotages not caught as they must be.`,
  );
  return lines;
}
