// Pull mode (`--here`): Phoenix's workflows run from a terminal against an account, with nothing deployed.
// The same state machine files and the same handlers as a deployment run in this process through the local
// runner; the handlers get SDK clients built from the standard AWS configuration (default credential
// chain, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL and the service-specific endpoint variables), and Waits
// take real time. Only the clients and the clock differ from the simulator, and both are handed in through
// the same seam (useClients, useClock), so a test can hand this runner the simulator's clients and clock.
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { EC2Client } from "@aws-sdk/client-ec2";
import * as SFN from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { Level } from "level";
import {
  type ClientName,
  resetCreatedClients,
  sdkClientDefaults,
  useClients,
} from "../functions/aws/clients";
import { PhoenixError } from "../functions/engine/errors";
import { executionArnOf } from "../functions/engine/names";
import { useClock } from "../functions/runtime/clock";
import { config, resetConfig } from "../functions/runtime/config";
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from "./sim/dynamodb";
import { stateMachineByArn, stateMachineByFile } from "./stack";
import {
  type ExecutionEvent,
  type ExecutionOutcome,
  importHandler,
  lambdaContext,
  machineLoader,
  runExecution,
  type SimulatedTime,
  startExecutionRequest,
} from "./state-machine";

/**
 * The Tasks a Ctrl-C may fail, per state machine. Failing one sends the execution down the path a failed
 * wave takes (roll back the wave, restore the group, release the lock); every other Task runs to its end,
 * so clean-up and evidence steps are never cut short. A quarantine is never undone by Ctrl-C: only its
 * validation and its wait for the replacement can be interrupted, and the isolation stays.
 */
export const INTERRUPTIBLE_TASKS: Record<string, ReadonlySet<string>> = {
  "replace-group": new Set([
    "Plan",
    "AcquireLock",
    "Prepare",
    "StartWave",
    "RetireFirst",
    "LaunchWave",
    "CheckWave",
    "ProbeWave",
    "ProbeAfterBake",
    "Retire",
  ]),
  "quarantine-instance": new Set(["Validate", "CheckDetached", "CheckReplacement", "ProbeReplacement"]),
};

/** The error a Ctrl-C puts into the next interruptible Task (caught like any failure of that step). */
export class InterruptedError extends Error {
  constructor() {
    super("interrupted from the terminal (Ctrl-C)");
    this.name = "Interrupted";
  }
}

/** Where pull mode runs and how it can be stopped. */
export interface HereOptions {
  /** Clients to use instead of those built from the standard AWS configuration (tests hand in the simulator's). */
  clients?: Partial<Record<ClientName, unknown>>;
  /** The clock; real time by default. */
  time?: Pick<SimulatedTime, "now" | "sleep" | "random">;
  /**
   * The DynamoDB table for locks, budgets and quarantine records: a deployed stack's, so that this run and
   * the stack see each other's locks. Without one they are kept on this machine, in `stateDir`.
   */
  table?: string;
  /**
   * Where locks, budgets and quarantine records are kept without `table`: a directory that outlives the
   * run (a quarantine's record holds what release restores). Default ~/.phoenix/here/<region>, or
   * PHOENIX_HERE_DIR.
   */
  stateDir?: string;
  /** First Ctrl-C: fail the next interruptible step, so the run rolls back (a dry run simply stops). */
  interrupt?: AbortSignal;
  /** Second Ctrl-C: stop at once, leaving the group as it is. */
  stop?: AbortSignal;
}

/** An execution run by this process. */
interface HereExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";
  startDate: Date;
  done: Promise<ExecutionOutcome>;
}

/**
 * Makes sure no other pull-mode run on this machine holds the local state (its store admits one process at
 * a time), so that this one fails with a clear message instead of midway.
 */
async function claimStateDir(stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const store = new Level(stateDir);
  try {
    await store.open();
  } catch (error) {
    if ((error as { cause?: { code?: string } }).cause?.code === "LEVEL_LOCKED")
      throw new PhoenixError(
        `Another phoenix --here run on this machine is using ${stateDir} (locks and quarantine records): wait for it to end, or share a DynamoDB table with --table.`,
      );
    throw error;
  }
  await store.close();
}

/** No region or no credentials: nothing can reach AWS (the CLI exits 3). */
export class AwsConfigurationError extends PhoenixError {
  override name = "AwsConfigurationError";
}

/**
 * Resolves the region and credentials the way every SDK client will, or says at once what is missing. The
 * CLI runs it before anything else for the deployed stack and for --here alike.
 */
export async function checkAwsConfiguration(): Promise<{ region: string }> {
  const probe = new EC2Client(sdkClientDefaults);
  try {
    let region: string;
    try {
      region = await probe.config.region();
    } catch {
      throw new AwsConfigurationError(
        "No AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or a region for your profile (AWS_PROFILE) in ~/.aws/config. Nothing was called.",
      );
    }
    try {
      await probe.config.credentials();
    } catch (error) {
      throw new AwsConfigurationError(
        `No AWS credentials: ${(error as Error).message.split("\n")[0]}. Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or log in (aws sso login). Nothing was called.`,
      );
    }
    return { region };
  } finally {
    probe.destroy();
  }
}

const realTime: NonNullable<HereOptions["time"]> = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

/** Waits `ms` on `time`, or less if `signal` fires first. */
function sleepUnless(
  time: NonNullable<HereOptions["time"]>,
  ms: number,
  stateName: string,
  signal?: AbortSignal,
) {
  if (!signal) return time.sleep(ms, stateName);
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    signal.addEventListener("abort", () => resolve(), { once: true });
    time.sleep(ms, stateName).then(resolve);
  });
}

/** Runs Phoenix's state machines in this process against the account the clients reach. */
export class HereRunner {
  readonly executions = new Map<string, HereExecution>();
  private readonly load = machineLoader();
  private readonly background = new Set<Promise<unknown>>();
  private readonly listeners: ((event: ExecutionEvent) => void)[] = [];
  private readonly stopAll = new AbortController();
  private readonly time: NonNullable<HereOptions["time"]>;
  /** Executions whose Ctrl-C means "stop", not "roll back" (dry runs change nothing, so nothing to undo). */
  private readonly dryRuns = new Set<string>();
  private restoreTable: () => void = () => {};

  private constructor(
    private readonly options: HereOptions,
    private readonly table?: EmbeddedDynamoDb,
  ) {
    this.time = options.time ?? realTime;
    options.stop?.addEventListener("abort", () => this.stopAll.abort(), { once: true });
  }

  /**
   * Checks the AWS configuration (unless clients are handed in), opens the lock table and hands the
   * handlers their clients and clock. Fails before any AWS call when the region or credentials are missing.
   */
  static async open(options: HereOptions): Promise<HereRunner> {
    const region = options.clients ? "injected" : (await checkAwsConfiguration()).region;
    const previousTable = process.env.PHOENIX_TABLE;
    // As in Lambda (serverless.yml): one try per AWS call, the state machine's Retry does the rest.
    const previousAttempts = process.env.AWS_MAX_ATTEMPTS;
    process.env.AWS_MAX_ATTEMPTS = "1";
    if (options.table) {
      process.env.PHOENIX_TABLE = options.table;
      resetConfig();
    }
    let ownTable: EmbeddedDynamoDb | undefined;
    let stateDir: string | undefined;
    if (!options.table && !options.clients?.dynamodb) {
      stateDir =
        options.stateDir ?? process.env.PHOENIX_HERE_DIR ?? join(homedir(), ".phoenix", "here", region);
      await claimStateDir(stateDir);
      ownTable = await startEmbeddedDynamoDb(undefined, config().PHOENIX_TABLE, [], stateDir);
    }
    const runner = new HereRunner(options, ownTable);
    runner.stateDir = stateDir;
    runner.restoreTable = () => {
      if (previousAttempts === undefined) delete process.env.AWS_MAX_ATTEMPTS;
      else process.env.AWS_MAX_ATTEMPTS = previousAttempts;
      if (!options.table) return;
      if (previousTable === undefined) delete process.env.PHOENIX_TABLE;
      else process.env.PHOENIX_TABLE = previousTable;
      resetConfig();
    };
    resetCreatedClients();
    useClients({
      ...(options.clients ?? {}),
      ...(ownTable ? { dynamodb: ownTable.client } : {}),
      // Step Functions is this process: a sweep's StartExecution runs the replacement here.
      sfn: runner.stepFunctions(),
    });
    useClock(options.time ? () => (options.time as NonNullable<HereOptions["time"]>).now() : undefined);
    return runner;
  }

  /** Where locks and quarantine records are kept on this machine (undefined with --table). */
  stateDir?: string;

  /** Calls `listener` with the events of every execution. */
  onExecutionEvent(listener: (event: ExecutionEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Runs statemachines/<file>.asl.json to its end here, then any execution it continued in. */
  async run(
    file: string,
    input: unknown,
    options: { executionName?: string; dryRun?: boolean } = {},
  ): Promise<ExecutionOutcome> {
    const name = options.executionName ?? randomUUID();
    if (options.dryRun) this.dryRuns.add(name);
    return this.start(stateMachineByFile(file).arn, name, JSON.stringify(input)).done;
  }

  /** Invokes one function here, as Lambda would (the sweep). */
  async invoke(functionKey: string, event: unknown): Promise<unknown> {
    const handler = await importHandler(functionKey);
    return handler(event, lambdaContext(functionKey, randomUUID()));
  }

  /** Resolves when every execution started so far (and any they started) has ended. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Waits for the executions, then gives back the default clients and clock and closes the local table. */
  async close(): Promise<void> {
    await this.idle();
    useClients({});
    resetCreatedClients();
    useClock();
    this.restoreTable();
    await this.table?.close();
  }

  /** StartExecution, answered here: a name is unique per state machine, as in Step Functions. */
  private start(stateMachineArn: string, name: string, input: string): HereExecution {
    const machine = stateMachineByArn(stateMachineArn);
    if (!machine)
      throw new SFN.StateMachineDoesNotExist({
        message: `State Machine Does Not Exist: '${stateMachineArn}'`,
        $metadata: {},
      });
    const executionArn = executionArnOf(stateMachineArn, name);
    if (this.executions.has(executionArn))
      throw new SFN.ExecutionAlreadyExists({
        message: `Execution Already Exists: '${executionArn}'`,
        $metadata: {},
      });
    const execution: HereExecution = {
      executionArn,
      stateMachineArn,
      name,
      input,
      status: "RUNNING",
      startDate: new Date(this.time.now()),
      done: undefined as unknown as Promise<ExecutionOutcome>,
    };
    execution.done = this.runMachine(machine.file, execution).then((outcome) => {
      execution.status = outcome.status;
      return outcome;
    });
    this.track(execution.done);
    this.executions.set(executionArn, execution);
    return execution;
  }

  private track<T>(work: Promise<T>): void {
    this.background.add(work);
    const untrack = () => this.background.delete(work);
    work.then(untrack, untrack);
  }

  private async runMachine(file: string, execution: HereExecution): Promise<ExecutionOutcome> {
    const { machine, handlers } = await this.load(file);
    const interruptible = INTERRUPTIBLE_TASKS[file] ?? new Set<string>();
    const { interrupt } = this.options;
    // A dry run has nothing to roll back: Ctrl-C stops it.
    const dryRun = this.dryRuns.has(execution.name);
    const stop = new AbortController();
    const stopNow = () => stop.abort();
    this.stopAll.signal.addEventListener("abort", stopNow, { once: true });
    if (dryRun) {
      if (interrupt?.aborted) stopNow();
      else interrupt?.addEventListener("abort", stopNow, { once: true });
    }
    try {
      return await runExecution({
        machine,
        handlers,
        input: JSON.parse(execution.input),
        executionName: execution.name,
        onEvent: (event) => {
          for (const listener of this.listeners) listener(event);
        },
        signal: stop.signal,
        interceptTask: async ({ stateName }, call) => {
          if (!dryRun && interrupt?.aborted && interruptible.has(stateName)) throw new InterruptedError();
          return call();
        },
        integrations: {
          "arn:aws:states:::states:startExecution": async (input) => {
            const request = startExecutionRequest(input);
            const child = this.start(request.stateMachineArn, request.name, request.input);
            return { ExecutionArn: child.executionArn, StartDate: child.startDate.toISOString() };
          },
        },
        time: {
          now: () => this.time.now(),
          // A Ctrl-C cuts short the wait before an interruptible step, which then fails at once.
          sleep: (ms, stateName) =>
            interruptible.has(stateName)
              ? sleepUnless(this.time, ms, stateName, interrupt)
              : this.time.sleep(ms, stateName),
          hold: () => () => {},
          started: () => {},
          random: () => this.time.random(),
        },
      });
    } finally {
      this.stopAll.signal.removeEventListener("abort", stopNow);
      interrupt?.removeEventListener("abort", stopNow);
    }
  }

  /** A Step Functions client answered by this runner (StartExecution runs the execution here). */
  private stepFunctions(): SFN.SFNClient {
    const client = new SFN.SFNClient({
      region: "us-east-1",
      credentials: { accessKeyId: "here", secretAccessKey: "here" },
    });
    const stub = mockClient(client);
    stub.onAnyCommand().rejects(new Error("pull mode runs StartExecution and DescribeExecution only"));
    stub.on(SFN.StartExecutionCommand).callsFake(async (input: SFN.StartExecutionInput) => {
      const execution = this.start(
        input.stateMachineArn as string,
        input.name ?? randomUUID(),
        input.input ?? "{}",
      );
      return { executionArn: execution.executionArn, startDate: execution.startDate };
    });
    stub.on(SFN.DescribeExecutionCommand).callsFake(async (input: SFN.DescribeExecutionInput) => {
      const execution = this.executions.get(input.executionArn as string);
      if (!execution)
        throw new SFN.ExecutionDoesNotExist({
          message: `Execution Does Not Exist: '${input.executionArn}'`,
          $metadata: {},
        });
      return {
        executionArn: execution.executionArn,
        stateMachineArn: execution.stateMachineArn,
        name: execution.name,
        status: execution.status,
        startDate: execution.startDate,
        input: execution.input,
      };
    });
    return client;
  }
}
