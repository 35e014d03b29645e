// Loads the real ASL files and runs them in-process with aws-local-stepfunctions, mapping every Task to the
// real Lambda handler named in serverless.yml. The same runner serves the simulator (simulated time) and
// pull mode (real AWS, real waits): the only differences are the clients the handlers get and the clock.
import "./polyfills";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { executionArnOf } from "../functions/engine/names";
import { statePatch } from "./seams/registry";
import { LOCAL_ACCOUNT, LOCAL_REGION, REPO_ROOT, readStack, stateMachineByFile } from "./stack";

export { REPO_ROOT } from "./stack";

// biome-ignore lint/suspicious/noExplicitAny: a Lambda handler takes any event
export type LambdaHandler = (event: any, context: any) => Promise<unknown>;

/** States and where they start (a state machine, a Map's iterations, a Parallel's branch). */
interface AslScope {
  StartAt: string;
  States: Record<string, AslState>;
}

/** An ASL state as far as the runner needs to read it. */
interface AslState {
  Type: string;
  Next?: string;
  Resource?: unknown;
  Seconds?: number;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  ItemProcessor?: AslScope;
  Iterator?: AslScope;
  Branches?: AslScope[];
}

/** A state machine file made runnable: Fn::GetAtt replaced, and which function each Task calls. */
export interface LoadedStateMachine {
  /** The file's name (statemachines/<name>.asl.json). */
  name: string;
  /** The deployed name and its local ARN. */
  stateMachineName: string;
  arn: string;
  definition: StateMachineDefinition;
  /** Task state name -> serverless.yml function key. */
  taskFunctions: Map<string, string>;
  /** Task state name -> service integration resource (arn:aws:states:::...). */
  integrationTasks: Map<string, string>;
  /** Wait state name -> its definition, for simulated time. */
  waitStates: Map<string, AslState>;
  /** Wait state name -> the Tasks that run first after it (through Maps and Parallels). */
  tasksAfterWait: Map<string, string[]>;
  /** State name -> the Map or Parallel state whose iterations or branches contain it. */
  enclosingMap: Map<string, string>;
}

/** A dummy Lambda ARN for a function key (the local runner never calls Lambda). */
export const localFunctionArn = (functionKey: string) =>
  `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:phoenix-local-${functionKey}`;

/** Replaces {"Ref": "<state machine id>"} anywhere in a definition with that state machine's local ARN. */
function replaceRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(replaceRefs);
  if (value && typeof value === "object") {
    const ref = (value as { Ref?: string }).Ref;
    if (typeof ref === "string" && Object.keys(value).length === 1) {
      const machine = [...readStack().stateMachines.values()].find((item) => item.id === ref);
      if (!machine) throw new Error(`{"Ref": "${ref}"} names no state machine in serverless.yml`);
      return machine.arn;
    }
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaceRefs(item)]));
  }
  return value;
}

/**
 * Loads statemachines/<name>.asl.json: every {"Fn::GetAtt": [fn, "Arn"]} becomes a dummy Lambda ARN and
 * every {"Ref": <state machine>} that state machine's local ARN.
 */
export function loadStateMachine(name: string): LoadedStateMachine {
  const raw = replaceRefs(
    JSON.parse(readFileSync(join(REPO_ROOT, "statemachines", `${name}.asl.json`), "utf8")),
  ) as {
    States: Record<string, AslState>;
  };
  const taskFunctions = new Map<string, string>();
  const integrationTasks = new Map<string, string>();
  const waitStates = new Map<string, AslState>();
  const enclosingMap = new Map<string, string>();
  const scopes = new Map<string, Record<string, AslState>>();
  const visit = (states: Record<string, AslState>, mapName?: string) => {
    for (const [stateName, original] of Object.entries(states)) {
      // A state swapped for this run (a seam of the local runner), if any.
      const patch = statePatch(name, stateName);
      const state = patch ? (patch(original as never) as unknown as AslState) : original;
      states[stateName] = state;
      scopes.set(stateName, states);
      if (mapName) enclosingMap.set(stateName, mapName);
      if (taskFunctions.has(stateName) || waitStates.has(stateName)) {
        throw new Error(
          `${name}: state name ${stateName} is used twice; the local runner maps states by name`,
        );
      }
      if (
        state.Type === "Task" &&
        typeof state.Resource === "string" &&
        state.Resource.startsWith("arn:aws:states:::")
      ) {
        integrationTasks.set(stateName, state.Resource);
      } else if (state.Type === "Task") {
        const getAtt = (state.Resource as { "Fn::GetAtt"?: [string, string] })?.["Fn::GetAtt"];
        if (!getAtt) throw new Error(`${name}: Task ${stateName} must reference its function as Fn::GetAtt`);
        taskFunctions.set(stateName, getAtt[0]);
        state.Resource = localFunctionArn(getAtt[0]);
      }
      if (state.Type === "Wait") waitStates.set(stateName, state);
      if (state.ItemProcessor) visit(state.ItemProcessor.States, stateName);
      if (state.Iterator) visit(state.Iterator.States, stateName);
      for (const branch of state.Branches ?? []) visit(branch.States, stateName);
    }
  };
  visit(raw.States);
  // Simulated time cannot make a Wait itself last: the Tasks that follow it wait instead. So every Wait
  // must lead straight to Tasks (through Maps and Parallels), which is checked here, at load.
  const firstTasks = (stateName: string, states: Record<string, AslState>): string[] => {
    const state = states[stateName];
    if (!state) throw new Error(`${name}: no state ${stateName}`);
    if (state.Type === "Task") return [stateName];
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) return firstTasks((inner as { StartAt: string }).StartAt, inner.States);
    if (state.Branches)
      return state.Branches.flatMap((branch) =>
        firstTasks((branch as { StartAt: string }).StartAt, branch.States),
      );
    throw new Error(
      `${name}: the local runner needs a Task (or a Map or Parallel starting with one) after a Wait; ${stateName} is a ${state.Type}`,
    );
  };
  const tasksAfterWait = new Map<string, string[]>();
  for (const [waitName, wait] of waitStates) {
    tasksAfterWait.set(
      waitName,
      firstTasks((wait as { Next: string }).Next, scopes.get(waitName) ?? raw.States),
    );
  }
  const machine = stateMachineByFile(name);
  return {
    name,
    stateMachineName: machine.name,
    arn: machine.arn,
    definition: raw as unknown as StateMachineDefinition,
    taskFunctions,
    integrationTasks,
    waitStates,
    tasksAfterWait,
    enclosingMap,
  };
}

/** Imports the real handler of every function a state machine calls. */
export async function importHandlers(machine: LoadedStateMachine): Promise<Map<string, LambdaHandler>> {
  const handlers = new Map<string, LambdaHandler>();
  for (const functionKey of new Set(machine.taskFunctions.values()))
    handlers.set(functionKey, await importHandler(functionKey));
  return handlers;
}

/** Imports the real handler serverless.yml names for a function key. */
export async function importHandler(functionKey: string): Promise<LambdaHandler> {
  const fn = readStack().functions.get(functionKey);
  if (!fn) throw new Error(`serverless.yml declares no function ${functionKey}`);
  return ((await import(join(REPO_ROOT, fn.module))) as { handler: LambdaHandler }).handler;
}

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

/** Loads each state machine file and imports its handlers once, on first use. */
export function machineLoader(): (
  file: string,
) => Promise<{ machine: LoadedStateMachine; handlers: Map<string, LambdaHandler> }> {
  const loaded = new Map<
    string,
    Promise<{ machine: LoadedStateMachine; handlers: Map<string, LambdaHandler> }>
  >();
  return (file) => {
    let machine = loaded.get(file);
    if (!machine) {
      machine = (async () => {
        const definition = loadStateMachine(file);
        return { machine: definition, handlers: await importHandlers(definition) };
      })();
      loaded.set(file, machine);
    }
    return machine;
  };
}

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
  const stateMachine = new StateMachine(machine.definition, { validationOptions: { checkArn: false } });
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
