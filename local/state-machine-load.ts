// Loads the real ASL files for the local runner (state-machine.ts): Fn::GetAtt and Ref replaced, which
// Lambda function each Task calls, the Wait states and what runs after them for simulated time, and the
// real handlers serverless.yml names, imported once per file.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { StateMachineDefinition } from "aws-local-stepfunctions";
import { statePatch } from "./seams/registry";
import { LOCAL_ACCOUNT, LOCAL_REGION, REPO_ROOT, readStack, stateMachineByFile } from "./stack";

// biome-ignore lint/suspicious/noExplicitAny: a Lambda handler takes any event
export type LambdaHandler = (event: any, context: any) => Promise<unknown>;

/** States and where they start (a state machine, a Map's iterations, a Parallel's branch). */
interface AslScope {
  StartAt: string;
  States: Record<string, AslState>;
}

/** An ASL state as far as the runner needs to read it. */
export interface AslState {
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
