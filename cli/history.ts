// Following a deployed execution through its Step Functions history: each finished step as a line, and
// what would otherwise be silence (a Wait, a failed attempt that Step Functions will retry, a step still
// running) as a line and a pending status. How long a Wait lasts and when a retry comes are read from the
// same ASL file the stack was deployed from.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { HistoryEvent } from "@aws-sdk/client-sfn";
import { REPO_ROOT } from "../local/stack";
import { readPath } from "../local/state-machine";
import { describeFailure, formatDuration } from "../local/timeline";
import type { Progress } from "./progress";

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}
interface AslState {
  Type: string;
  Seconds?: number;
  SecondsPath?: string;
  Retry?: Retrier[];
  States?: Record<string, AslState>;
  Branches?: { States: Record<string, AslState> }[];
  ItemProcessor?: { States: Record<string, AslState> };
  Iterator?: { States: Record<string, AslState> };
}

/** Every state of a definition by name, nested ones (Map, Parallel) included. */
function statesByName(states: Record<string, AslState>, into = new Map<string, AslState>()) {
  for (const [name, state] of Object.entries(states)) {
    into.set(name, state);
    for (const scope of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])])
      if (scope) statesByName(scope.States, into);
  }
  return into;
}

/** The retrier Step Functions applies to `error` in a state (the first that matches). */
function retrierFor(state: AslState | undefined, error: string): Retrier | undefined {
  return state?.Retry?.find(
    (retrier) =>
      retrier.ErrorEquals.includes(error) ||
      retrier.ErrorEquals.includes("States.ALL") ||
      (retrier.ErrorEquals.includes("States.TaskFailed") && !error.startsWith("States.")),
  );
}

/** Turns history events into progress: lines and a pending status. Also remembers the Fail state reached. */
export class HistoryNarrator {
  private readonly states: Map<string, AslState>;
  /** History event id -> the state it belongs to (Lambda events point back to their Task's entry). */
  private readonly stateOf = new Map<number, string>();
  private readonly attempts = new Map<string, number>();
  failState?: string;

  constructor(
    machineFile: string,
    private readonly describe: (stateName: string, input: unknown, output: unknown) => string | undefined,
    private readonly progress: Progress,
    private readonly now: () => number = Date.now,
  ) {
    const definition = JSON.parse(
      readFileSync(join(REPO_ROOT, "statemachines", `${machineFile}.asl.json`), "utf8"),
    ) as { States: Record<string, AslState> };
    this.states = statesByName(definition.States);
  }

  /** Feed it the execution's history events in order. */
  onEvent(event: HistoryEvent): void {
    const id = event.id ?? 0;
    const entered = event.stateEnteredEventDetails;
    const state = entered?.name ?? this.stateOf.get(event.previousEventId ?? -1);
    if (state) this.stateOf.set(id, state);
    const at = event.timestamp?.toISOString() ?? "";
    const say = (line: string) => this.progress(`${at}  ${line}`);
    switch (event.type) {
      case "TaskStateEntered":
        this.attempts.set(state ?? "", 0);
        this.progress.status?.(`${state}: running`);
        break;
      case "TaskStateExited": {
        this.progress.status?.(undefined);
        const exited = event.stateExitedEventDetails;
        if (exited?.name && exited.output) {
          const output = JSON.parse(exited.output);
          const line = this.describe(exited.name, output, output);
          if (line) say(line);
        }
        break;
      }
      case "WaitStateEntered": {
        const wait = this.states.get(state ?? "");
        const input = entered?.input ? JSON.parse(entered.input) : undefined;
        const seconds = wait?.Seconds ?? (wait?.SecondsPath ? Number(readPath(input, wait.SecondsPath)) : 0);
        if (seconds >= 5) {
          say(`waiting ${formatDuration(seconds)} (${state})`);
          this.progress.status?.(`waiting (${state})`, this.now() + seconds * 1000);
        }
        break;
      }
      case "LambdaFunctionFailed":
      case "LambdaFunctionTimedOut":
      case "TaskFailed":
      case "TaskTimedOut": {
        const details =
          event.lambdaFunctionFailedEventDetails ??
          event.lambdaFunctionTimedOutEventDetails ??
          event.taskFailedEventDetails ??
          event.taskTimedOutEventDetails;
        const error = details?.error ?? (event.type.endsWith("TimedOut") ? "States.Timeout" : "Error");
        const attempt = (this.attempts.get(state ?? "") ?? 0) + 1;
        this.attempts.set(state ?? "", attempt);
        const retrier = retrierFor(this.states.get(state ?? ""), error);
        const failure = describeFailure(error, details?.cause);
        if (!retrier || attempt > (retrier.MaxAttempts ?? 3)) {
          say(`${state}: ${failure}; no retries left`);
          break;
        }
        const base = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempt - 1);
        const delay = Math.min(base, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
        const when =
          retrier.JitterStrategy === "FULL"
            ? `within ${formatDuration(delay)}`
            : `in ${formatDuration(delay)}`;
        say(
          `${state}: ${failure}; Step Functions retries it (${attempt} of ${retrier.MaxAttempts ?? 3}) ${when}`,
        );
        this.progress.status?.(`${state}: retry ${attempt}`, this.now() + delay * 1000);
        break;
      }
      case "FailStateEntered":
        this.failState = state;
        break;
    }
  }
}
