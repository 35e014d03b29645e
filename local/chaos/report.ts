// The campaign's tables: what ran, what was injected, how every execution ended (failed ones explained),
// and which promises broke, each with the seed that replays it.
import type { CampaignResult, ExecutionResult, RunResult } from "./campaign";
import { FAULT_KINDS } from "./generate";
import { INVARIANTS } from "./monitor";

const pad = (text: string | number, width: number) => String(text).padEnd(width);
const padLeft = (text: string | number, width: number) => String(text).padStart(width);
const clock = (at: number) => new Date(at).toISOString().slice(11, 19);

/** Simulated time as hours or minutes. */
function simulated(runs: RunResult[]): string {
  const seconds = runs.reduce((sum, run) => sum + run.simulatedSeconds, 0);
  return seconds > 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${Math.round(seconds / 60)} min`;
}

const RESULTS: ExecutionResult[] = ["completed", "rolled back", "skipped", "refused", "stopped", "failed"];

/** The campaign's table: runs, faults by kind, how executions ended, violations with the seed that replays each. */
export function renderCampaign(result: CampaignResult): string[] {
  const { runs } = result;
  const lines = [
    `Chaos campaign: ${runs.length} runs from seed ${result.seed}, ${simulated(runs)} simulated in ${result.wallSeconds.toFixed(1)} s`,
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
  lines.push("", `${pad("executions", 24)}${RESULTS.map((name) => padLeft(name, 12)).join("")}`);
  const all = runs.flatMap((run) => run.executions);
  for (const machine of [...new Set(all.map((execution) => execution.stateMachine))].sort()) {
    const executions = all.filter((execution) => execution.stateMachine === machine);
    lines.push(
      `${pad(machine, 24)}${RESULTS.map((name) => padLeft(executions.filter((execution) => execution.result === name).length, 12)).join("")}`,
    );
  }
  lines.push(
    "",
    `after stops and timeouts: ${runs.reduce((sum, run) => sum + run.reclaimed, 0)} replacements reclaimed by the janitor, ` +
      `${runs.reduce((sum, run) => sum + run.orphansReaped, 0)} left-over retired instances terminated by a sweep ` +
      `(${runs.reduce((sum, run) => sum + run.tailSweeps, 0)} scheduled sweeps after the work ended)`,
  );
  for (const machine of ["quarantine-instance", "image-rollout"]) {
    const outcomes = new Map<string, number>();
    for (const execution of all.filter((item) => item.stateMachine === machine)) {
      const key =
        execution.result === "completed"
          ? "completed"
          : `${execution.result}: ${execution.error ?? ""}${execution.cause ? ` (${execution.cause.slice(0, 100)})` : ""}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    if (outcomes.size === 0) continue;
    lines.push("", `${machine} outcomes:`);
    for (const [key, n] of [...outcomes].sort((a, b) => b[1] - a[1]))
      lines.push(`  ${padLeft(n, 5)}  ${key}`);
  }
  const failures = new Map<string, number>();
  for (const execution of all.filter((item) => item.stateMachine === "replace-group")) {
    if (execution.result === "completed" || execution.result === "skipped" || !execution.error) continue;
    failures.set(execution.error, (failures.get(execution.error) ?? 0) + 1);
  }
  if (failures.size > 0) {
    lines.push("", "replace-group not completed, by error:");
    for (const [key, n] of [...failures].sort((a, b) => b[1] - a[1]))
      lines.push(`  ${padLeft(n, 5)}  ${key}`);
  }
  const violations = runs.flatMap((run) => run.violations.map((violation) => ({ run, violation })));
  lines.push("", `${pad("invariant", 20)}${pad("promise", 108)}${padLeft("violations", 11)}`);
  for (const [name, promise] of Object.entries(INVARIANTS)) {
    const n = violations.filter(({ violation }) => violation.invariant === name).length;
    lines.push(`${pad(name, 20)}${pad(promise, 108)}${padLeft(n, 11)}`);
  }
  if (violations.length > 0) {
    lines.push("");
    for (const { run, violation } of violations.slice(0, 40)) {
      lines.push(
        `VIOLATION ${violation.invariant} in run ${run.seed} (${run.trigger}; ${run.faults.join(", ") || "no faults"}) ` +
          `${violation.groupName ?? ""} at ${clock(violation.at)}: ${violation.detail}  replay: npm run chaos -- --replay ${run.seed}`,
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

/** One run's result, after its timeline. */
export function renderRun(result: RunResult): string[] {
  return [
    "",
    `run ${result.seed}: ${result.trigger}; faults ${result.faults.join(", ") || "none"}; injected ${JSON.stringify(result.injected)}`,
    ...result.executions.map(
      (execution) =>
        `  ${execution.stateMachine} ${execution.name}: ${execution.result}${execution.error ? ` (${execution.error}${execution.cause ? `: ${execution.cause}` : ""})` : ""}`,
    ),
    ...result.violations.map(
      (violation) =>
        `  VIOLATION ${violation.invariant} ${violation.groupName ?? ""} at ${clock(violation.at)}: ${violation.detail}`,
    ),
    result.violations.length === 0 ? "  no invariant violated" : "",
  ];
}
