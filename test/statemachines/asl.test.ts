import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import aslValidator from "asl-validator";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { RETRYABLE_ERROR_NAMES } from "../../functions/engine/errors";
import { REPO_ROOT } from "../../local/state-machine";

// biome-ignore lint/suspicious/noExplicitAny: ASL is walked as plain JSON
type State = any;

const files = readdirSync(join(REPO_ROOT, "statemachines")).filter((file) => file.endsWith(".asl.json"));
const serverless = parseYaml(readFileSync(join(REPO_ROOT, "serverless.yml"), "utf8"), { logLevel: "silent" });
const functionKeys = new Set(Object.keys(serverless.functions));
const stateMachineIds = new Set(
  Object.values(serverless.stepFunctions.stateMachines).map((machine) => (machine as { id: string }).id),
);
/** Service integrations the local runner implements. */
const INTEGRATIONS = [
  "arn:aws:states:::states:startExecution.sync:2",
  "arn:aws:states:::states:startExecution",
];
const isIntegration = (state: State) => typeof state.Resource === "string";

/** Every state of a definition, including those inside Map and Parallel states. */
function allStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, State],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor.States) : []),
    ...(state.Iterator ? allStates(state.Iterator.States) : []),
    ...(state.Branches ?? []).flatMap((branch: State) => allStates(branch.States)),
  ]);
}

describe.each(files)("%s", (file) => {
  const definition = JSON.parse(readFileSync(join(REPO_ROOT, "statemachines", file), "utf8"));
  const states = allStates(definition.States);
  const tasks = states.filter(([, state]) => state.Type === "Task" && !isIntegration(state));
  const integrations = states.filter(([, state]) => state.Type === "Task" && isIntegration(state));

  it("is valid Amazon States Language", () => {
    const { isValid, errorsText } = aslValidator(definition, { checkArn: true, checkPaths: true });
    expect(isValid, errorsText("\n")).toBe(true);
  });

  it("uses JSONPath only, inline Maps, and no features the local runner cannot run", () => {
    const text = JSON.stringify(definition);
    expect(text).not.toMatch(/"QueryLanguage"\s*:\s*"JSONata"|"Assign"|waitForTaskToken|"DISTRIBUTED"/);
  });

  it.each(tasks.map(([name]) => name))(
    "Task %s retries throttling and transient errors with jitter",
    (name) => {
      const state = tasks.find(([taskName]) => taskName === name)?.[1];
      const retry = state.Retry?.[0];
      expect(retry).toBeDefined();
      for (const error of RETRYABLE_ERROR_NAMES) expect(retry.ErrorEquals).toContain(error);
      expect(retry.ErrorEquals).toContain("Lambda.TooManyRequestsException");
      expect(retry).toMatchObject({ JitterStrategy: "FULL", BackoffRate: 2 });
      expect(retry.MaxAttempts).toBeGreaterThanOrEqual(3);
    },
  );

  it.each([...tasks, ...integrations].map(([name]) => name))("Task %s catches every error", (name) => {
    const state = [...tasks, ...integrations].find(([taskName]) => taskName === name)?.[1];
    expect(state.Catch?.some((catcher: State) => catcher.ErrorEquals.includes("States.ALL"))).toBe(true);
  });

  it("uses only service integrations the local runner implements, on state machines of this stack", () => {
    for (const [name, state] of integrations) {
      expect(INTEGRATIONS, name).toContain(state.Resource);
      // Another state machine of this stack, or this one (a continuation).
      const target = state.Parameters.StateMachineArn?.Ref ?? state.Parameters["StateMachineArn.$"];
      expect(stateMachineIds.has(target) || target === "$$.StateMachine.Id", name).toBe(true);
      expect(state.Retry?.length, name).toBeGreaterThan(0);
    }
  });

  it("references only functions declared in serverless.yml, as Fn::GetAtt", () => {
    for (const [name, state] of tasks) {
      const [functionKey, attribute] = state.Resource["Fn::GetAtt"] ?? [];
      expect(attribute, name).toBe("Arn");
      expect(functionKeys.has(functionKey), `${name} -> ${functionKey}`).toBe(true);
    }
  });

  it("has unique state names and waits the local runner can time", () => {
    const names = states.map(([name]) => name);
    expect(new Set(names).size).toBe(names.length);
    for (const [name, state] of states.filter(([, s]) => s.Type === "Wait")) {
      expect(state.Seconds !== undefined || state.SecondsPath !== undefined, name).toBe(true);
    }
  });
});

it("every function in serverless.yml is used by a state machine, triggered by an event or invoked by the CLI", () => {
  const cli = readdirSync(join(REPO_ROOT, "cli"))
    .map((file) => readFileSync(join(REPO_ROOT, "cli", file), "utf8"))
    .join("\n");
  const used = new Set(
    files.flatMap((file) =>
      allStates(JSON.parse(readFileSync(join(REPO_ROOT, "statemachines", file), "utf8")).States)
        .filter(([, state]) => state.Type === "Task" && !isIntegration(state))
        .map(([, state]) => state.Resource["Fn::GetAtt"][0]),
    ),
  );
  for (const [key, fn] of Object.entries(serverless.functions)) {
    const triggered = ((fn as { events?: unknown[] }).events ?? []).length > 0;
    expect(used.has(key) || triggered || cli.includes(`"${key}"`), key).toBe(true);
  }
});
