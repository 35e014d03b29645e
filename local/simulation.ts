// The embedded default: Phoenix's real handlers and real state machines, talking to a simulated AWS on a
// simulated clock. Only the clients and the clock differ from a deployed stack.
import { useClients } from "../functions/aws/clients";
import { useClock } from "../functions/runtime/clock";
import { buildWorld, type Scenario } from "./scenario";
import { createSimClients, type SimCall } from "./sim/clients";
import { Observer } from "./sim/observer";
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
  private readonly machines = new Map<
    string,
    { machine: LoadedStateMachine; handlers: Map<string, LambdaHandler> }
  >();

  private constructor(
    readonly world: SimWorld,
    clients: ReturnType<typeof createSimClients>,
  ) {
    this.journal = clients.journal;
    this.observer = new Observer(world);
    // The seam a real run uses too: the handlers get these clients and this clock.
    useClients(clients.clients);
    useClock(() => world.clock.now());
  }

  /** Builds the scenario's account and attaches Phoenix to it. */
  static fromScenario(scenario: Scenario): Simulation {
    return Simulation.fromWorld(buildWorld(scenario));
  }

  /** Attaches Phoenix to an existing simulated account. */
  static fromWorld(world: SimWorld): Simulation {
    return new Simulation(world, createSimClients(world));
  }

  /** Detaches the simulator (the wall clock and default clients come back). */
  close(): void {
    useClients({});
    useClock();
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
    return runExecution({
      machine,
      handlers,
      input,
      executionName: options.executionName,
      onEvent: options.onEvent,
      interceptTask: options.interceptTask,
      time: {
        now: () => this.world.clock.now(),
        advanceBy: (ms) => this.world.clock.advanceBy(ms),
        random: () => this.world.random.next(),
      },
    });
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
