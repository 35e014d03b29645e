// Runs the real ASL files in-process with aws-local-stepfunctions, every Task calling the real Lambda
// handler named in serverless.yml (state-machine-load.ts loads both). The same runner serves the simulator (simulated time) and
// pull mode (real AWS, real waits): the only differences are the clients the handlers get and the clock.
import "./polyfills";
import { randomUUID } from "node:crypto";
import { StateMachine } from "aws-local-stepfunctions";
import { executionArnOf } from "../functions/engine/names";
import {
  type AslState,
  type LambdaHandler,
  type LoadedStateMachine,
  localFunctionArn,
} from "./state-machine-load";

export { REPO_ROOT } from "./stack";
export {
  importHandler,
  importHandlers,
  type LambdaHandler,
  type LoadedStateMachine,
  loadStateMachine,
  localFunctionArn,
  machineLoader,
} from "./state-machine-load";

/** Simulated time: every Wait and every retry interval sleeps on it instead of on the wall clock. */
export interface SimulatedTime {
  now(): number;
  /** Resolves once `ms` have passed, before the Task `stateName` runs (a Wait or a retry interval). */
  sleep(ms: number, stateName: string): Promise<void>;
  /** Holds the clock while a Task works; returns the release. */
  hold(): () => void;
  /** Called once the execution has started running its states (its set-up no longer holds the clock). */
  started(): void;
  /** A float in [0, 1) for retry jitter, from the simulation's seeded generator. */
  random(): number;
}

/** One thing the execution did, for live timelines. */
export interface ExecutionEvent {
  executionName: string;
  type: string;
  stateName?: string;
  stateType?: string;
  input?: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  at: number;
  /** Map iteration index, when inside a Map. */
  index?: number;
  /** Entering a Wait: the seconds it waits. */
  waitSeconds?: number;
  /** A Task about to be tried again: which retry this is, of how many, and after how long. */
  retry?: { attempt: number; maxAttempts: number; delaySeconds: number };
}

/** How an execution ended, with the figures benchmarks need. */
export interface ExecutionOutcome {
  executionArn: string;
  status: "SUCCEEDED" | "FAILED" | "ABORTED";
  output?: unknown;
  error?: string;
  cause?: string;
  /** Step Functions history events this execution would have written (Standard workflow rules). */
  historyEvents: number;
  /** Billed state transitions (states entered plus retries). */
  stateTransitions: number;
  lambdaInvocations: number;
  /** Time spent inside handlers, in the runner's clock (simulated when simulated). */
  lambdaMilliseconds: number;
}

/** Options of one execution. */
export interface RunOptions {
  machine: LoadedStateMachine;
  handlers: Map<string, LambdaHandler>;
  input: unknown;
  executionName?: string;
  /** The clock Waits and retries take: simulated, or real time that pull mode can cut short (Ctrl-C). */
  time?: SimulatedTime;
  onEvent?: (event: ExecutionEvent) => void;
  /** Aborts the execution when signalled (Ctrl-C). */
  signal?: AbortSignal;
  /** Local implementations of service integrations (arn:aws:states:::...), by resource. */
  integrations?: Record<string, (input: unknown) => Promise<unknown>>;
  /** Wraps each handler call (fault injection, accounting). */
  interceptTask?: (
    task: { stateName: string; functionKey: string; input: unknown },
    call: () => Promise<unknown>,
  ) => Promise<unknown>;
}

const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Step Functions stops a Map as soon as one iteration fails; aws-local-stepfunctions lets the next queued
 * iteration start before it aborts, and lets an in-flight Task finish. A Task of a failed Map therefore
 * must not run: it fails with an error that no Retry or Catch of the dead iteration can match.
 */
function siblingFailedError(mapName: string): Error {
  return Object.assign(new Error(`${mapName} already failed; this iteration is abandoned`), {
    name: "States.MapAbandoned",
    isRetryable: false,
    isCatchable: false,
  });
}

/** Seconds a Wait state waits for a given input. */
function waitSeconds(state: AslState, input: unknown, nowMs: number): number {
  if (state.Seconds !== undefined) return state.Seconds;
  const read = (path: string) => readPath(input, path);
  if (state.SecondsPath) return Number(read(state.SecondsPath));
  const timestamp = state.Timestamp ?? (state.TimestampPath ? String(read(state.TimestampPath)) : undefined);
  return timestamp ? Math.max(0, (Date.parse(timestamp) - nowMs) / 1000) : 0;
}

/** Reads a simple JSONPath ($.a.b[0]) from a value. */
export function readPath(value: unknown, path: string): unknown {
  const parts = path.replace(/^\$\.?/, "").match(/[^.[\]]+/g) ?? [];
  return parts.reduce<unknown>(
    (current, part) => (current as Record<string, unknown> | undefined)?.[part],
    value,
  );
}

/** Definitions (as JSON) the library has validated in this process. */
const validatedDefinitions = new Set<string>();

/** What a states:startExecution Task asks for, as StartExecution takes it (a name made up when none is given). */
export function startExecutionRequest(input: unknown): {
  stateMachineArn: string;
  name: string;
  input: string;
} {
  const { StateMachineArn, Name, Input } = input as {
    StateMachineArn: string;
    Name?: string;
    Input?: unknown;
  };
  return {
    stateMachineArn: StateMachineArn,
    name: Name ?? randomUUID(),
    input: typeof Input === "string" ? Input : JSON.stringify(Input ?? {}),
  };
}

/** Runs one execution of a loaded state machine through the real handlers. */
export async function runExecution(options: RunOptions): Promise<ExecutionOutcome> {
  const { machine, handlers, time } = options;
  const executionName = options.executionName ?? randomUUID();
  const executionArn = executionArnOf(machine.arn, executionName);
  const clock = () => time?.now() ?? Date.now();
  let lambdaInvocations = 0;
  let lambdaMilliseconds = 0;
  const failedMaps = new Set<string>();
  // A Wait or a retry interval passes instantly in the runner; the Tasks after it sleep until this time.
  const notBefore = new Map<string, number>();
  const holdUntil = (taskState: string, at: number) =>
    notBefore.set(taskState, Math.max(notBefore.get(taskState) ?? 0, at));

  /** Everything that must happen before a Task's work runs, simulated or real. */
  const beforeTask = async (stateName: string) => {
    // Let the event consumer see the Wait or retry that led here, so simulated time is advanced first.
    await yieldToEvents();
    const wakeAt = notBefore.get(stateName) ?? 0;
    if (time && wakeAt > time.now()) await time.sleep(wakeAt - time.now(), stateName);
    // A stopped execution schedules nothing more (a Lambda already running finishes, as in AWS).
    if (options.signal?.aborted)
      throw Object.assign(new Error("execution stopped"), { name: "States.Aborted" });
    const mapName = machine.enclosingMap.get(stateName);
    if (mapName && failedMaps.has(mapName)) throw siblingFailedError(mapName);
  };
  const taskHandlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [stateName, functionKey] of machine.taskFunctions) {
    const handler = handlers.get(functionKey);
    if (!handler) throw new Error(`no handler for ${functionKey}`);
    taskHandlers[stateName] = async (input) => {
      const release = time?.hold();
      try {
        await beforeTask(stateName);
        lambdaInvocations++;
        const started = clock();
        const call = () => handler(input, lambdaContext(functionKey, executionName));
        try {
          return await (options.interceptTask
            ? options.interceptTask({ stateName, functionKey, input }, call)
            : call());
        } finally {
          lambdaMilliseconds += clock() - started;
        }
      } finally {
        release?.();
      }
    };
  }
  for (const [stateName, resource] of machine.integrationTasks) {
    const integration = options.integrations?.[resource];
    if (!integration)
      throw new Error(`${machine.name}: no local implementation of ${resource} (state ${stateName})`);
    taskHandlers[stateName] = async (input) => {
      const release = time?.hold();
      try {
        await beforeTask(stateName);
        return await integration(input);
      } finally {
        release?.();
      }
    };
  }
  const zero = (names: Iterable<string>) => Object.fromEntries([...names].map((name) => [name, 0]));
  const taskStates = [...machine.taskFunctions.keys(), ...machine.integrationTasks.keys()];
  // The library validates a definition against the ASL schema each time it is given one (compiling that
  // schema costs about as much CPU as a small rotation): once per definition and process is enough.
  const text = JSON.stringify(machine.definition);
  const stateMachine = new StateMachine(machine.definition, {
    validationOptions: { checkArn: false, noValidate: validatedDefinitions.has(text) },
  });
  validatedDefinitions.add(text);
  const execution = stateMachine.run(options.input as never, {
    overrides: {
      taskResourceLocalHandlers: taskHandlers as never,
      ...(time
        ? {
            waitTimeOverrides: zero(machine.waitStates.keys()),
            retryIntervalOverrides: zero(taskStates),
          }
        : {}),
    },
    context: {
      Execution: { Id: executionArn, Name: executionName },
      StateMachine: { Id: machine.arn, Name: machine.name },
    },
    noThrowOnAbort: true,
  });
  time?.started();
  const onAbort = () => execution.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  // Stopped before it began (Ctrl-C during set-up): it ends ABORTED having run nothing.
  if (options.signal?.aborted) onAbort();

  const waitingFor = (type: string, state: { name: string; type: string; input?: unknown } | undefined) => {
    const definition =
      type === "StateEntered" && state?.type === "Wait" ? machine.waitStates.get(state.name) : undefined;
    return definition ? waitSeconds(definition, state?.input, clock()) : undefined;
  };
  let historyEvents = 0;
  let stateTransitions = 0;
  let failure: { error?: string; cause?: string } = {};
  let aborted = false;
  let retry: ExecutionEvent["retry"];
  const consume = (async () => {
    for await (const event of execution.eventLogs) {
      const state = "state" in event ? event.state : undefined;
      const index = "index" in event ? (event.index as number | undefined) : undefined;
      // Events of an abandoned iteration (see siblingFailedError) never happen in Step Functions.
      const mapName = state ? machine.enclosingMap.get(state.name) : undefined;
      if (mapName && failedMaps.has(mapName)) continue;
      switch (event.type) {
        case "StateEntered":
          if (state?.type === "Map" || state?.type === "Parallel") failedMaps.delete(state.name);
          stateTransitions++;
          // Entered, plus scheduled/started/result for a Lambda task, plus MapStateStarted for a Map.
          historyEvents += state?.type === "Task" ? 4 : state?.type === "Map" ? 2 : 1;
          break;
        case "StateExited":
          historyEvents += state?.type === "Map" ? 2 : 1;
          if (time && state?.type === "Wait") {
            const definition = machine.waitStates.get(state.name);
            const wakeAt =
              time.now() + (definition ? waitSeconds(definition, state.input, time.now()) * 1000 : 0);
            for (const task of machine.tasksAfterWait.get(state.name) ?? []) holdUntil(task, wakeAt);
          }
          break;
        case "StateRetried": {
          stateTransitions++;
          historyEvents += 3;
          const { retrier, attempt } = event.retry;
          const base = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempt - 1);
          const capped = Math.min(base, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
          const delayMs =
            (retrier.JitterStrategy === "FULL" && time ? capped * time.random() : capped) * 1000;
          if (time && state) holdUntil(state.name, time.now() + delayMs);
          retry = { attempt, maxAttempts: retrier.MaxAttempts ?? 3, delaySeconds: delayMs / 1000 };
          break;
        }
        case "MapIterationFailed":
        case "ParallelBranchFailed":
          failedMaps.add(event.parentState.name);
          historyEvents++;
          break;
        case "MapIterationStarted":
        case "MapIterationSucceeded":
        case "ExecutionStarted":
        case "ExecutionSucceeded":
          historyEvents++;
          break;
        case "ExecutionFailed":
          historyEvents++;
          failure = {
            error: event.Error,
            cause: typeof event.Cause === "string" ? event.Cause : JSON.stringify(event.Cause),
          };
          break;
        case "ExecutionAborted":
          historyEvents++;
          aborted = true;
          break;
      }
      options.onEvent?.({
        executionName,
        type: event.type,
        stateName: state?.name,
        stateType: state?.type,
        input: state?.input,
        output: state?.output,
        error: "Error" in event ? (event.Error as string) : undefined,
        cause: "Cause" in event ? String(event.Cause) : undefined,
        at: clock(),
        index,
        waitSeconds: waitingFor(event.type, state),
        ...(event.type === "StateRetried" ? { retry } : {}),
      });
    }
  })();

  let output: unknown;
  let status: ExecutionOutcome["status"] = "SUCCEEDED";
  try {
    output = await execution.result;
  } catch {
    status = "FAILED";
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  await consume;
  if (aborted) status = "ABORTED";
  return {
    executionArn,
    status,
    output: status === "SUCCEEDED" ? output : undefined,
    ...failure,
    historyEvents,
    stateTransitions,
    lambdaInvocations,
    lambdaMilliseconds,
  };
}

/** A Lambda context object good enough for Powertools and middy. */
export function lambdaContext(functionKey: string, executionName: string) {
  return {
    functionName: `phoenix-local-${functionKey}`,
    functionVersion: "$LATEST",
    invokedFunctionArn: localFunctionArn(functionKey),
    memoryLimitInMB: "256",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/phoenix-local-${functionKey}`,
    logStreamName: executionName,
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
