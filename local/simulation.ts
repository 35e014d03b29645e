// The embedded default: Phoenix's real handlers and real state machines, talking to a simulated AWS on a
// simulated clock. Only the clients and the clock differ from a deployed stack.
import { useClients } from "../functions/aws/clients";
import { useClock } from "../functions/runtime/clock";
import { config } from "../functions/runtime/config";
import { buildWorld, type Scenario } from "./scenario";
import { createSimClients, type SimCall } from "./sim/clients";
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from "./sim/dynamodb";
import { Observer } from "./sim/observer";
import { SimScheduler } from "./sim/scheduler";
import type { SimWorld } from "./sim/world";
import {
  type ExecutionEvent,
  type ExecutionOutcome,
  importHandlers,
  type LambdaHandler,
  type LoadedStateMachine,
  loadStateMachine,
  runExecution,
} from "./state-machine";

/** A simulated account with Phoenix attached to it. */
export class Simulation {
  readonly observer: Observer;
  readonly journal: SimCall[];
  private readonly scheduler: SimScheduler;
  private readonly machines = new Map<
    string,
    { machine: LoadedStateMachine; handlers: Map<string, LambdaHandler> }
  >();

  private constructor(
    readonly world: SimWorld,
    clients: ReturnType<typeof createSimClients>,
    private readonly dynamodb: EmbeddedDynamoDb,
  ) {
    this.journal = clients.journal;
    this.observer = new Observer(world);
    this.scheduler = new SimScheduler(world.clock);
    // The seam a real run uses too: the handlers get these clients and this clock.
    useClients({ ...clients.clients, dynamodb: dynamodb.client });
    useClock(() => world.clock.now());
  }

  /** Builds the scenario's account and attaches Phoenix to it. */
  static async fromScenario(scenario: Scenario): Promise<Simulation> {
    return Simulation.fromWorld(buildWorld(scenario));
  }

  /** Attaches Phoenix to a simulated account (with an embedded DynamoDB for locks and idempotency). */
  static async fromWorld(world: SimWorld): Promise<Simulation> {
    const clients = createSimClients(world);
    const dynamodb = await startEmbeddedDynamoDb(world, config().PHOENIX_TABLE, clients.journal);
    return new Simulation(world, clients, dynamodb);
  }

  /** Detaches the simulator (the wall clock and default clients come back) and stops its DynamoDB. */
  async close(): Promise<void> {
    useClients({});
    useClock();
    await this.dynamodb.close();
  }

  /** Runs one execution of a state machine to its end, in simulated time. */
  async run(
    stateMachine: string,
    input: unknown,
    options: {
      executionName?: string;
      onEvent?: (event: ExecutionEvent) => void;
      interceptTask?: Parameters<typeof runExecution>[0]["interceptTask"];
    } = {},
  ): Promise<ExecutionOutcome> {
    const { machine, handlers } = await this.load(stateMachine);
    const id = this.scheduler.enter();
    try {
      return await runExecution({
        machine,
        handlers,
        input,
        executionName: options.executionName,
        onEvent: options.onEvent,
        interceptTask: options.interceptTask,
        time: {
          now: () => this.world.clock.now(),
          sleep: (ms) => this.scheduler.sleep(id, ms),
          random: () => this.world.random.next(),
        },
      });
    } finally {
      this.scheduler.leave(id);
    }
  }

  /** Mutating API calls made so far (dry runs must make none). */
  mutatingCalls(): SimCall[] {
    return this.journal.filter((call) => call.mutating);
  }

  private async load(name: string) {
    let loaded = this.machines.get(name);
    if (!loaded) {
      const machine = loadStateMachine(name);
      loaded = { machine, handlers: await importHandlers(machine) };
      this.machines.set(name, loaded);
    }
    return loaded;
  }
}
