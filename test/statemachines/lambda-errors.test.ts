// Every Lambda Task of every state machine retries the errors Lambda itself raises, as AWS's guide asks:
// https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html lists
// Lambda.ClientExecutionTimeoutException, Lambda.ServiceException, Lambda.AWSLambdaException and
// Lambda.SdkClientException (transient 500s of the Lambda service) and Lambda.TooManyRequestsException
// (concurrency exhausted). It also says an unhandled error, "out-of-memory errors and function timeouts",
// reaches the state machine as Lambda.Unknown: a step that only reads is safe to run again, so those retry it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadScenario, runInput } from "../../local/scenario";
import { Simulation } from "../../local/simulation";
import { type ExecutionEvent, REPO_ROOT } from "../../local/state-machine";

// biome-ignore lint/suspicious/noExplicitAny: ASL is walked as plain JSON
type State = any;

/** The Lambda service's own errors, as Step Functions names them. */
const LAMBDA_SERVICE_ERRORS = [
  "Lambda.ClientExecutionTimeoutException",
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
];

const files = readdirSync(join(REPO_ROOT, "statemachines")).filter((file) => file.endsWith(".asl.json"));
const serverless = parseYaml(readFileSync(join(REPO_ROOT, "serverless.yml"), "utf8"), { logLevel: "silent" });
const iam = parseYaml(readFileSync(join(REPO_ROOT, "deploy/iam.yml"), "utf8")) as Record<
  string,
  { Action: string | string[] }[]
>;

/**
 * A function is read-only when its own IAM role (generated from the calls its code makes) allows nothing but
 * reads: running it twice changes nothing. Judged from the role, not from anything the state machine says.
 */
const readOnly = (functionKey: string) =>
  (iam[functionKey] ?? [{ Action: "unknown:Write" }])
    .flatMap((statement) => [statement.Action].flat())
    .every((action) => /^[a-z0-9-]+:(Describe|Get|List|BatchGet|Query)/.test(action));

/** The function's timeout in seconds, as serverless.yml deploys it (the framework's default is 6 s). */
const functionTimeout = (functionKey: string): number =>
  serverless.functions[functionKey]?.timeout ?? serverless.provider.timeout ?? 6;

/** Every state of a definition, including those inside Map and Parallel states. */
function allStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, State],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor.States) : []),
    ...(state.Iterator ? allStates(state.Iterator.States) : []),
    ...(state.Branches ?? []).flatMap((branch: State) => allStates(branch.States)),
  ]);
}

/**
 * The retrier Step Functions would use for an error: the first whose ErrorEquals names it, or names
 * States.ALL, or States.TaskFailed (a wildcard for every error but States.Timeout), as
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html describes.
 */
function retrierFor(state: State, error: string): State | undefined {
  return (state.Retry ?? []).find(
    (retrier: State) =>
      retrier.ErrorEquals.includes(error) ||
      retrier.ErrorEquals.includes("States.ALL") ||
      (retrier.ErrorEquals.includes("States.TaskFailed") && error !== "States.Timeout"),
  );
}

describe.each(files)("%s", (file) => {
  const definition = JSON.parse(readFileSync(join(REPO_ROOT, "statemachines", file), "utf8"));
  const lambdaTasks = allStates(definition.States)
    .filter(([, state]) => state.Type === "Task" && state.Resource?.["Fn::GetAtt"])
    .map(([name, state]) => ({ name, state, functionKey: state.Resource["Fn::GetAtt"][0] as string }));

  it("has Lambda Tasks", () => expect(lambdaTasks.length).toBeGreaterThan(0));

  it.each(lambdaTasks.map((task) => [task.name, task]))(
    "Task %s retries every Lambda service exception AWS lists",
    (_, task) => {
      for (const error of LAMBDA_SERVICE_ERRORS) {
        const retrier = retrierFor(task.state, error);
        expect(retrier, `${task.name} does not retry ${error}`).toBeDefined();
        expect(retrier.MaxAttempts ?? 3, `${task.name}: ${error}`).toBeGreaterThanOrEqual(3);
      }
    },
  );

  it.each(lambdaTasks.filter((task) => readOnly(task.functionKey)).map((task) => [task.name, task]))(
    "read-only Task %s retries a function timeout (Lambda.Unknown)",
    (_, task) => {
      const retrier = retrierFor(task.state, "Lambda.Unknown");
      expect(retrier, `${task.name} does not retry Lambda.Unknown`).toBeDefined();
      expect(retrier.MaxAttempts ?? 3).toBeGreaterThanOrEqual(2);
    },
  );

  it.each(lambdaTasks.map((task) => [task.name, task]))(
    "Task %s waits longer than its function may run, so a hung function surfaces as a function timeout",
    (_, task) => {
      // Otherwise States.Timeout fires first and the function may still be working when the step is retried.
      expect(task.state.TimeoutSeconds, task.name).toBeGreaterThan(functionTimeout(task.functionKey));
    },
  );
});

it("the read-only steps are known from the functions' roles", () => {
  // The classification has to find both kinds, or the Lambda.Unknown check above checks nothing.
  expect(readOnly("probeWave")).toBe(true);
  expect(readOnly("resolveImageRollout")).toBe(true);
  expect(readOnly("launchWave")).toBe(false);
  expect(readOnly("groupLock")).toBe(false);
});

describe("on the simulator", () => {
  let simulation: Simulation | undefined;
  afterEach(async () => simulation?.close());

  it("a forward step hit by a Lambda service exception, and a read-only step by a function timeout, are retried, not rolled back", async () => {
    const scenario = loadScenario("default");
    simulation = await Simulation.fromScenario(scenario);
    const failures: Record<string, string[]> = {
      // Before the function runs: the Lambda service failed to invoke it.
      LaunchWave: [...LAMBDA_SERVICE_ERRORS],
      // After it ran: it did its work, then hit its timeout (what Lambda.Unknown stands for).
      CheckWave: ["Lambda.Unknown"],
    };
    const injected: string[] = [];
    const events: ExecutionEvent[] = [];
    const outcome = await simulation.run("replace-group", runInput(scenario), {
      onEvent: (event) => events.push(event),
      interceptTask: async (task, call) => {
        const next = failures[task.stateName]?.shift();
        if (next && task.stateName === "LaunchWave") {
          injected.push(next);
          throw Object.assign(new Error("injected"), { name: next });
        }
        const result = await call();
        if (next) {
          injected.push(next);
          throw Object.assign(new Error("Task timed out after 30.00 seconds"), { name: next });
        }
        return result;
      },
    });
    expect(injected).toEqual([...LAMBDA_SERVICE_ERRORS, "Lambda.Unknown"]);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(events.some((event) => event.stateName === "RollbackWave")).toBe(false);
    const retried = events.filter((event) => event.type === "StateRetried").map((event) => event.stateName);
    expect(retried.filter((name) => name === "LaunchWave")).toHaveLength(LAMBDA_SERVICE_ERRORS.length);
    expect(retried.filter((name) => name === "CheckWave")).toHaveLength(1);
  });
});
