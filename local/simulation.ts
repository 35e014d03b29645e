// The embedded default: Phoenix's real handlers and real state machines, deployed as serverless.yml says,
// on a simulated AWS account with a simulated clock. Step Functions executions, EventBridge rules and
// Lambda invocations are simulated here; everything else AWS does is in local/sim. Only the clients and the
// clock differ from a deployed stack.
import { randomUUID } from "node:crypto";
import { type ClientName, useClients } from "../functions/aws/clients";
import { executionArnOf } from "../functions/engine/names";
import { useClock } from "../functions/runtime/clock";
import { config, resetConfig } from "../functions/runtime/config";
import { buildWorld, type Scenario } from "./scenario";
import { handlerSwap } from "./seams/registry";
import { actingAs, currentCaller } from "./sim/callers";
import { createSimClients, type SimCall } from "./sim/clients";
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from "./sim/dynamodb";
import { matchesPattern } from "./sim/event-patterns";
import type { SimCaller } from "./sim/model";
import { Observer } from "./sim/observer";
import { SimScheduler } from "./sim/scheduler";
import { SimAwsError, type SimWorld } from "./sim/world";
import { stepFunctionsRoutes } from "./simulation-sfn";
import { LOCAL_ACCOUNT, LOCAL_REGION, readStack, stateMachineByArn, stateMachineByFile } from "./stack";
import {
  type ExecutionEvent,
  type ExecutionOutcome,
  importHandler,
  lambdaContext,
  machineLoader,
  type RunOptions,
  runExecution,
  startExecutionRequest,
} from "./state-machine";

/** A Step Functions execution in the simulated account. */
export interface SimExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED" | "TIMED_OUT";
  output?: string;
  error?: string;
  cause?: string;
  startDate: number;
  stopDate?: number;
  outcome?: ExecutionOutcome;
  done: Promise<ExecutionOutcome>;
  /** StopExecution aborts through it. */
  stop: AbortController;
  /** Set when the execution was stopped by its timeout rather than by StopExecution. */
  timedOut?: boolean;
  /** Who started it: the Phoenix function that called StartExecution, or the parent execution's Task. */
  startedBy?: SimCaller;
}

/** A Lambda invocation made by an event rule or a schedule. */
export interface SimInvocation {
  functionKey: string;
  at: number;
  event: unknown;
  result?: unknown;
  error?: Error;
}

/** Options of one execution started directly (tests, npm start). */
export interface StartOptions {
  executionName?: string;
  onEvent?: (event: ExecutionEvent) => void;
  interceptTask?: RunOptions["interceptTask"];
  /** Who starts it (defaults to the Phoenix function running now, if any). */
  startedBy?: SimCaller;
}

/** A simulated account with Phoenix deployed on it. */
export class Simulation {
  readonly observer: Observer;
  readonly journal: SimCall[];
  readonly executions = new Map<string, SimExecution>();
  /** The simulated account's SDK clients, as handed to the handlers (pull-mode tests hand them on). */
  readonly clients: Partial<Record<ClientName, unknown>>;
  readonly invocations: SimInvocation[] = [];
  private readonly scheduler: SimScheduler;
  private readonly background = new Set<Promise<unknown>>();
  private readonly executionListeners: ((event: ExecutionEvent) => void)[] = [];
  private readonly lifecycleListeners: {
    started: ((execution: SimExecution) => void)[];
    ended: ((execution: SimExecution) => void)[];
  } = { started: [], ended: [] };
  private readonly invocationListeners: ((functionKey: string, result: unknown, error?: Error) => void)[] =
    [];
  private readonly load = machineLoader();
  /** Intercepts every Task of every execution (fault injection). */
  interceptTask?: RunOptions["interceptTask"];
  /** Extra deliveries of every event an EventBridge rule matches (at-least-once delivery). */
  duplicateDeliveries = 0;
  /** Seconds EventBridge takes to deliver an event (delivery order is not put order); none by default. */
  deliveryDelay?: (event: { detailType: string; detail: unknown }) => number;
  private restoreSettings: () => void = () => {};

  private constructor(
    readonly world: SimWorld,
    clients: ReturnType<typeof createSimClients>,
    private readonly dynamodb: EmbeddedDynamoDb,
  ) {
    this.journal = clients.journal;
    this.observer = new Observer(world);
    this.scheduler = new SimScheduler(world.clock);
    // The seam a real run uses too: the handlers get these clients and this clock.
    this.clients = { ...clients.clients, dynamodb: dynamodb.client };
    useClients(this.clients);
    useClock(() => world.clock.now());
    world.onPutEvent((event) => this.routeEvent(event));
  }

  /** Builds the scenario's account and deploys Phoenix on it, with the scenario's stack settings. */
  static async fromScenario(scenario: Scenario): Promise<Simulation> {
    const saved = Object.fromEntries(Object.keys(scenario.settings).map((name) => [name, process.env[name]]));
    Object.assign(process.env, scenario.settings);
    resetConfig();
    const simulation = await Simulation.fromWorld(buildWorld(scenario));
    simulation.restoreSettings = () => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      resetConfig();
    };
    return simulation;
  }

  /** Deploys Phoenix on a simulated account (with an embedded DynamoDB for locks, budgets and idempotency). */
  static async fromWorld(world: SimWorld): Promise<Simulation> {
    let simulation: Simulation | undefined;
    const clients = createSimClients(
      world,
      stepFunctionsRoutes(() => simulation as Simulation),
    );
    const dynamodb = await startEmbeddedDynamoDb(world, config().PHOENIX_TABLE, clients.journal);
    simulation = new Simulation(world, clients, dynamodb);
    return simulation;
  }

  /** The embedded DynamoDB's endpoint (monitors read the table with their own client). */
  get tableEndpoint(): string {
    return this.dynamodb.endpoint;
  }

  /**
   * Stops a running execution from outside, as StopExecution does (ABORTED), or as its TimeoutSeconds
   * would (TIMED_OUT). A Task already running finishes; nothing after it runs, no Catch either.
   */
  stopExecution(executionArn: string, how: "aborted" | "timed-out" = "aborted"): boolean {
    const execution = this.executions.get(executionArn);
    if (execution?.status !== "RUNNING" || execution.stop.signal.aborted) return false;
    execution.timedOut = how === "timed-out";
    execution.stop.abort();
    return true;
  }

  /** Detaches the simulator (the wall clock, default clients and settings come back) and stops its DynamoDB. */
  async close(): Promise<void> {
    await this.idle();
    useClients({});
    useClock();
    this.restoreSettings();
    await this.dynamodb.close();
  }

  /** Calls `listener` with the events of every execution (timelines). */
  onExecutionEvent(listener: (event: ExecutionEvent) => void): void {
    this.executionListeners.push(listener);
  }

  /** Calls `listener` the moment an execution starts (before any of its states runs). */
  onExecutionStarted(listener: (execution: SimExecution) => void): void {
    this.lifecycleListeners.started.push(listener);
  }

  /** Calls `listener` the moment an execution ended (before EventBridge hears of it). */
  onExecutionEnded(listener: (execution: SimExecution) => void): void {
    this.lifecycleListeners.ended.push(listener);
  }

  /** Calls `listener` after every function invocation made by a rule, a schedule or `invoke`. */
  onInvocation(listener: (functionKey: string, result: unknown, error?: Error) => void): void {
    this.invocationListeners.push(listener);
  }

  /** Runs `action` once `seconds` of simulated time have passed (while executions run, or alone). */
  at(seconds: number, action: () => unknown): void {
    const id = this.scheduler.enter();
    this.track(
      (async () => {
        let started: unknown;
        try {
          await this.scheduler.sleep(id, seconds * 1000);
          // The action registers whatever it starts (executions, invocations) before its first await.
          started = action();
        } finally {
          this.scheduler.leave(id);
        }
        await started;
      })(),
    );
  }

  /** Runs one execution of statemachines/<file>.asl.json to its end, in simulated time. */
  async run(file: string, input: unknown, options: StartOptions = {}): Promise<ExecutionOutcome> {
    return this.startExecution(
      stateMachineByFile(file).arn,
      options.executionName ?? randomUUID(),
      JSON.stringify(input),
      options,
    ).done;
  }

  /**
   * StartExecution as Step Functions does it: a name is unique per state machine; the same name and input
   * while it runs returns the same execution; otherwise a reused name is ExecutionAlreadyExists.
   */
  startExecution(
    stateMachineArn: string,
    name: string,
    input: string,
    options: StartOptions = {},
  ): SimExecution {
    const machine = stateMachineByArn(stateMachineArn);
    if (!machine)
      throw new SimAwsError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${stateMachineArn}'`);
    // Step Functions' limits: a name of 1-80 characters, an input of at most 256 KiB.
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new SimAwsError("InvalidName", `Invalid Name: '${name}'`);
    if (Buffer.byteLength(input) > 262_144) {
      throw new SimAwsError(
        "ValidationException",
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144",
      );
    }
    const executionArn = executionArnOf(stateMachineArn, name);
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === "RUNNING" && existing.input === input) return existing;
      throw new SimAwsError("ExecutionAlreadyExists", `Execution Already Exists: '${executionArn}'`);
    }
    // Registered before anything awaits, so the clock cannot jump past the start of this execution.
    const id = this.scheduler.enter();
    const execution = {
      executionArn,
      stateMachineArn,
      name,
      input,
      status: "RUNNING",
      startDate: this.world.clock.now(),
      stop: new AbortController(),
      startedBy: options.startedBy ?? currentCaller(),
    } as SimExecution;
    execution.done = this.track(
      this.runMachine(machine.file, id, execution, options)
        // A definition the runner cannot run fails the execution loudly instead of leaving it RUNNING.
        .catch(
          (error: Error): ExecutionOutcome => ({
            executionArn,
            status: "FAILED",
            error: "States.Runtime",
            cause: error.message,
            historyEvents: 0,
            stateTransitions: 0,
            lambdaInvocations: 0,
            lambdaMilliseconds: 0,
          }),
        )
        .then((outcome) => {
          Object.assign(execution, {
            status: outcome.status === "ABORTED" && execution.timedOut ? "TIMED_OUT" : outcome.status,
            output: outcome.output === undefined ? undefined : JSON.stringify(outcome.output),
            error: outcome.error,
            cause: outcome.cause,
            stopDate: this.world.clock.now(),
            outcome,
          });
          for (const listener of this.lifecycleListeners.ended) listener(execution);
          // EventBridge hears of every execution that did not succeed (the changes Phoenix has a rule for).
          if (outcome.status !== "SUCCEEDED") {
            this.world.putEvent({
              source: "aws.states",
              detailType: "Step Functions Execution Status Change",
              detail: {
                executionArn,
                stateMachineArn,
                name,
                status: execution.status,
                startDate: execution.startDate,
                stopDate: execution.stopDate,
                input,
                output: null,
                error: outcome.error ?? null,
                cause: outcome.cause ?? null,
              },
              resources: [executionArn],
            });
          }
          return outcome;
        }),
    );
    this.executions.set(executionArn, execution);
    for (const listener of this.lifecycleListeners.started) listener(execution);
    return execution;
  }

  /** Puts one event on the simulated default bus (as PutEvents does). */
  putEvent(event: { source: string; detailType: string; detail: unknown; resources?: string[] }): void {
    this.world.putEvent({ ...event, eventBusName: "default" });
  }

  /** Invokes a function the way Lambda would, with the event as given. */
  async invoke(functionKey: string, event: unknown): Promise<unknown> {
    const invocation: SimInvocation = { functionKey, at: this.world.clock.now(), event };
    this.invocations.push(invocation);
    const id = this.scheduler.enter();
    try {
      const handler = await importHandler(functionKey);
      const real = () => handler(event, lambdaContext(functionKey, randomUUID()));
      const swap = handlerSwap(functionKey);
      invocation.result = await actingAs({ functionKey, invokedAt: invocation.at }, () =>
        swap ? swap(real, event) : real(),
      );
      for (const listener of this.invocationListeners) listener(functionKey, invocation.result);
      return invocation.result;
    } catch (error) {
      invocation.error = error as Error;
      for (const listener of this.invocationListeners) listener(functionKey, undefined, invocation.error);
      throw error;
    } finally {
      this.scheduler.leave(id);
    }
  }

  /** A scheduled event, as EventBridge Scheduler / a schedule rule delivers it. */
  scheduledEvent(): Record<string, unknown> {
    return {
      version: "0",
      id: this.world.random.hex(32),
      "detail-type": "Scheduled Event",
      source: "aws.events",
      account: LOCAL_ACCOUNT,
      time: new Date(this.world.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
      region: LOCAL_REGION,
      resources: [],
      detail: {},
    };
  }

  /** Resolves when every execution and invocation started so far (and any they started) has ended. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Mutating API calls made so far (dry runs must make none). */
  mutatingCalls(): SimCall[] {
    return this.journal.filter((call) => call.mutating);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.background.add(work);
    const untrack = () => this.background.delete(work);
    work.then(untrack, untrack);
    return work;
  }

  private async runMachine(
    file: string,
    id: number,
    execution: SimExecution,
    options: StartOptions,
  ): Promise<ExecutionOutcome> {
    // The hold the execution was registered with lasts until its states run (loading its handlers is I/O).
    let setUpHeld = true;
    const setUpDone = () => {
      if (setUpHeld) this.scheduler.release(id);
      setUpHeld = false;
    };
    try {
      const { machine, handlers } = await this.load(file);
      return await runExecution({
        machine,
        handlers,
        input: JSON.parse(execution.input),
        executionName: execution.name,
        onEvent: (event) => {
          options.onEvent?.(event);
          for (const listener of this.executionListeners) listener(event);
        },
        // Every Task runs as its execution's (the account records which execution made each call); a
        // handler swapped for this run (a seam, local/seams) runs in its place.
        interceptTask: (task, call) => {
          const intercept = options.interceptTask ?? this.interceptTask;
          const swap = handlerSwap(task.functionKey);
          const handler = swap ? () => swap(call, task.input) : call;
          return actingAs(
            {
              functionKey: task.functionKey,
              executionArn: execution.executionArn,
              stateName: task.stateName,
            },
            () => (intercept ? intercept(task, handler) : handler()),
          );
        },
        signal: execution.stop.signal,
        integrations: {
          "arn:aws:states:::states:startExecution.sync:2": (input) =>
            this.startChildAndWait(id, input, execution.executionArn),
          "arn:aws:states:::states:startExecution": async (input) => {
            const request = startExecutionRequest(input);
            const child = this.startExecution(request.stateMachineArn, request.name, request.input, {
              startedBy: { functionKey: "states:startExecution", executionArn: execution.executionArn },
            });
            return { ExecutionArn: child.executionArn, StartDate: new Date(child.startDate).toISOString() };
          },
        },
        time: {
          now: () => this.world.clock.now(),
          sleep: (ms) => this.scheduler.sleep(id, ms),
          hold: () => this.scheduler.hold(id),
          started: setUpDone,
          random: () => this.world.random.next(),
        },
      });
    } finally {
      this.scheduler.leave(id);
    }
  }

  /** states:startExecution.sync:2 — start a child execution and wait for it; the parent does not hold the clock. */
  private async startChildAndWait(parentId: number, input: unknown, parentArn: string): Promise<unknown> {
    const request = startExecutionRequest(input);
    const child = this.startExecution(request.stateMachineArn, request.name, request.input, {
      startedBy: { functionKey: "states:startExecution.sync:2", executionArn: parentArn },
    });
    await this.scheduler.whileWaiting(parentId, child.done);
    const description = {
      ExecutionArn: child.executionArn,
      StateMachineArn: child.stateMachineArn,
      Name: child.name,
      Status: child.status,
      StartDate: child.startDate,
      StopDate: child.stopDate,
      Input: JSON.parse(child.input),
      Output: child.output === undefined ? undefined : JSON.parse(child.output),
      Error: child.error,
      Cause: child.cause,
    };
    if (child.status === "SUCCEEDED") return description;
    throw Object.assign(new Error(JSON.stringify(description)), { name: "States.TaskFailed" });
  }

  /** EventBridge: every function whose rule matches the event gets it (more than once if duplicates are on). */
  private routeEvent(entry: {
    source: string;
    detailType: string;
    detail: unknown;
    resources?: string[];
    id: string;
    at: number;
  }): void {
    const event = {
      version: "0",
      id: entry.id,
      "detail-type": entry.detailType,
      source: entry.source,
      account: LOCAL_ACCOUNT,
      time: new Date(entry.at).toISOString().replace(/\.\d{3}Z$/, "Z"),
      region: LOCAL_REGION,
      resources: entry.resources ?? [],
      detail: entry.detail,
    };
    for (const fn of readStack().functions.values()) {
      const matched = fn.events.some(
        (trigger) =>
          "eventBridge" in trigger &&
          String(trigger.eventBridge.enabled ?? true) !== "false" &&
          matchesPattern(trigger.eventBridge.pattern, event),
      );
      if (!matched) continue;
      const delay = this.deliveryDelay?.(entry) ?? 0;
      for (let copy = 0; copy <= this.duplicateDeliveries; copy++) {
        // Asynchronous invocation: a failure is recorded, as Lambda would after its retries.
        const deliver = () => this.track(this.invoke(fn.key, structuredClone(event)).catch(() => undefined));
        if (delay > 0) this.at(delay, deliver);
        else deliver();
      }
    }
  }
}
