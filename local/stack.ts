// serverless.yml read as data, so the local runtimes run exactly what would be deployed: which handler each
// function key names, which events trigger which function, which file defines which state machine.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

/** The repository root (local/ is one level below it). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The stage local runs use in names and ARNs. */
export const LOCAL_STAGE = "local";
export const LOCAL_REGION = "us-east-1";
export const LOCAL_ACCOUNT = "123456789012";
/** Phoenix's own bus in the simulated account (serverless.yml names it phoenix-<stage>). */
export const PHOENIX_BUS = `phoenix-${LOCAL_STAGE}`;

/** What triggers a function. */
export type FunctionEvent =
  | { eventBridge: { pattern: Record<string, unknown>; enabled?: boolean | string } }
  | { schedule: { rate: string; enabled?: boolean | string } };

export interface StackFunction {
  key: string;
  /** Module path relative to the repository (functions/handlers/x.ts). */
  module: string;
  events: FunctionEvent[];
}

export interface StackStateMachine {
  key: string;
  /** CloudFormation logical id, what `{"Ref": ...}` in another definition names. */
  id: string;
  name: string;
  arn: string;
  /** statemachines/<file>.asl.json, without the extension. */
  file: string;
}

export interface StackDefinition {
  functions: Map<string, StackFunction>;
  stateMachines: Map<string, StackStateMachine>;
  params: Record<string, string>;
}

/** The local ARN of a state machine name. */
export const localStateMachineArn = (name: string) =>
  `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;

/** Substitutes ${param:x} and ${sls:stage} the way the framework would for the local stage. */
function resolveVariables<T>(value: T, params: Record<string, string>): T {
  if (typeof value === "string") {
    return value
      .replace(/\$\{param:([A-Za-z0-9]+)\}/g, (_, name: string) => params[name] ?? "")
      .replace(/\$\{sls:stage\}/g, LOCAL_STAGE) as T;
  }
  if (Array.isArray(value)) return value.map((item) => resolveVariables(item, params)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveVariables(item, params)]),
    ) as T;
  }
  return value;
}

let cached: StackDefinition | undefined;

/** Reads serverless.yml once. */
export function readStack(): StackDefinition {
  if (cached) return cached;
  const raw = parseYaml(readFileSync(join(REPO_ROOT, "serverless.yml"), "utf8"), { logLevel: "silent" }) as {
    params?: { default?: Record<string, unknown> };
    functions: Record<string, { handler: string; events?: FunctionEvent[] }>;
    stepFunctions: { stateMachines: Record<string, { id: string; name: string; definition: string }> };
  };
  const params: Record<string, string> = Object.fromEntries(
    Object.entries(raw.params?.default ?? {}).map(([key, value]) => [key, String(value)]),
  );
  const functions = new Map<string, StackFunction>();
  for (const [key, fn] of Object.entries(
    raw.functions as Record<string, { handler: string; events?: FunctionEvent[] }>,
  )) {
    const match = /^(.*)\.handler$/.exec(fn.handler);
    if (!match) throw new Error(`serverless.yml: function ${key} must export "handler"`);
    functions.set(key, { key, module: `${match[1]}.ts`, events: resolveVariables(fn.events ?? [], params) });
  }
  const stateMachines = new Map<string, StackStateMachine>();
  for (const [key, machine] of Object.entries(
    raw.stepFunctions.stateMachines as Record<string, { id: string; name: string; definition: string }>,
  )) {
    const file = /statemachines\/(.+)\.asl\.json/.exec(machine.definition)?.[1];
    if (!file)
      throw new Error(`serverless.yml: state machine ${key} must load statemachines/<name>.asl.json`);
    const name = resolveVariables(machine.name, params);
    stateMachines.set(key, { key, id: machine.id, name, arn: localStateMachineArn(name), file });
  }
  cached = { functions, stateMachines, params };
  return cached;
}

/** The state machine deployed under an ARN, if Phoenix has one there. */
export function stateMachineByArn(arn: string): StackStateMachine | undefined {
  return [...readStack().stateMachines.values()].find((item) => item.arn === arn);
}

/** The state machine defined by statemachines/<file>.asl.json. */
export function stateMachineByFile(file: string): StackStateMachine {
  const machine = [...readStack().stateMachines.values()].find((item) => item.file === file);
  if (!machine)
    throw new Error(`serverless.yml declares no state machine for statemachines/${file}.asl.json`);
  return machine;
}
