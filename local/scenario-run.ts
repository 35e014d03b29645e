// Runs a scenario end to end on the simulator and reports what happened, for npm start, the CLI and tests.
import type { Scenario } from "./scenario";
import { Simulation } from "./simulation";
import { readStack } from "./stack";
import { Timeline } from "./timeline";

/** What a scenario run did, group by group and execution by execution. */
export interface ScenarioReport {
  scenario: string;
  asExpected: boolean;
  unexpected: string[];
  executions: {
    stateMachine: string;
    name: string;
    status: string;
    error?: string;
    cause?: string;
    output?: unknown;
  }[];
  simulatedSeconds: number;
  wallSeconds: number;
  /** Every call of Phoenix's functions evaluated against its role in the packaged template. */
  iam: { authorizations: number; denied: string[] };
  groups: {
    groupName: string;
    lowestHealthyInService: number;
    floor: number;
    peakInstances: number;
    before: { version: string; min: number; max: number; desired: number };
    after: {
      version: string;
      min: number;
      max: number;
      desired: number;
      suspendedProcesses: string[];
      images: Record<string, number>;
    };
  }[];
  awsApiCalls: { total: number; byOperation: Record<string, number> };
  stepFunctions: { stateTransitions: number; historyEvents: number };
  lambdaInvocations: number;
  events: string[];
  invocations: { functionKey: string; result?: unknown; error?: string }[];
}

/**
 * Scenario inputs name instances as "{{instance:<group>:<index>}}" (ids are generated when the account is
 * built); this puts the real ids in.
 */
export function resolveInstanceRefs<T>(value: T, world: Simulation["world"]): T {
  if (typeof value === "string") {
    const match = /^\{\{instance:(.+):(\d+)\}\}$/.exec(value);
    if (!match) return value;
    const id = world.groups.get(match[1] as string)?.instanceIds[Number(match[2])];
    if (!id) throw new Error(`scenario: no instance ${match[2]} in group ${match[1]}`);
    return id as T;
  }
  if (Array.isArray(value)) return value.map((item) => resolveInstanceRefs(item, world)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveInstanceRefs(item, world)]),
    ) as T;
  }
  return value;
}

/** Starts what the scenario's `run` says, waits until everything settled, and checks the expectations. */
export async function runScenario(
  scenario: Scenario,
  write: (line: string) => void = () => {},
  simulation?: Simulation,
): Promise<ScenarioReport> {
  const sim = simulation ?? (await Simulation.fromScenario(scenario));
  const { world, observer } = sim;
  const timeline = new Timeline(world, write);
  world.onLog(timeline.onWorldLog);
  sim.onExecutionEvent(timeline.onExecutionEvent);
  sim.onInvocation(timeline.onInvocation);
  const before = new Map(
    [...world.groups.values()].map((group) => [
      group.groupName,
      {
        version: group.launchTemplate.version,
        min: group.minSize,
        max: group.maxSize,
        desired: group.desiredCapacity,
      },
    ]),
  );
  const wallStart = performance.now();
  const startedAt = world.clock.now();
  const { run } = scenario;
  if (run.stateMachine && run.input) {
    const machine = [...readStack().stateMachines.values()].find((item) => item.file === run.stateMachine);
    if (!machine) throw new Error(`scenario ${scenario.name}: no state machine ${run.stateMachine}`);
    sim.startExecution(
      machine.arn,
      `${scenario.name}-${scenario.seed}`,
      JSON.stringify(resolveInstanceRefs(run.input, world)),
    );
  }
  for (const event of run.events) {
    sim.at(event.afterSeconds, () =>
      sim.putEvent({
        source: event.source,
        detailType: event.detailType,
        detail: event.detail,
        resources: event.resources,
        eventBusName: event.eventBusName,
      }),
    );
  }
  if (run.sweep) {
    const { times, everySeconds, dryRun } = run.sweep;
    for (let n = 0; n < times; n++) {
      sim.at(n * everySeconds, () =>
        sim.invoke("sweepFleet", { ...sim.scheduledEvent(), dryRun }).catch(() => undefined),
      );
    }
  }
  await sim.idle();
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const simulatedSeconds = (world.clock.now() - startedAt) / 1000;
  // Let AWS finish what it was asked to do (instances shutting down) before describing the groups.
  world.clock.advanceBy(120_000);
  if (!simulation) await sim.close();

  const machineByArn = new Map(
    [...readStack().stateMachines.values()].map((machine) => [machine.arn, machine.file]),
  );
  const executions = [...sim.executions.values()].map((execution) => ({
    stateMachine: machineByArn.get(execution.stateMachineArn) ?? execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    error: execution.error,
    cause: execution.cause,
    output: execution.output ? JSON.parse(execution.output) : undefined,
  }));
  const unexpected: string[] = [];
  for (const expectation of run.expect) {
    const matching = executions.filter((execution) => execution.stateMachine === expectation.stateMachine);
    if (expectation.count !== undefined && matching.length !== expectation.count) {
      unexpected.push(
        `${expectation.count} ${expectation.stateMachine} executions expected, ${matching.length} ran`,
      );
    }
    if (expectation.count === undefined && matching.length === 0)
      unexpected.push(`no ${expectation.stateMachine} execution ran`);
    for (const execution of matching) {
      if (
        execution.status !== expectation.status ||
        (expectation.error && execution.error !== expectation.error)
      ) {
        unexpected.push(
          `${execution.stateMachine} ${execution.name} ended ${execution.status}${execution.error ? ` (${execution.error})` : ""}, expected ${expectation.status}${expectation.error ? ` (${expectation.error})` : ""}`,
        );
      }
    }
  }
  for (const invocation of sim.invocations.filter((item) => item.error))
    unexpected.push(`${invocation.functionKey} failed: ${invocation.error?.message}`);
  const calls = [...world.calls].sort((a, b) => b[1] - a[1]);
  const outcomes = [...sim.executions.values()].flatMap((execution) =>
    execution.outcome ? [execution.outcome] : [],
  );
  const minHealthy = (groupName: string) => {
    const policy = (run.input?.groupName === groupName ? run.input?.policy : undefined) as
      | { minHealthyPercent?: number }
      | undefined;
    return policy?.minHealthyPercent ?? 100;
  };
  return {
    scenario: scenario.name,
    asExpected: unexpected.length === 0,
    unexpected,
    executions,
    simulatedSeconds: Math.round(simulatedSeconds),
    wallSeconds: Number(wallSeconds.toFixed(2)),
    groups: [...world.groups.values()].map((group) => {
      const images: Record<string, number> = {};
      for (const id of group.instanceIds) {
        const instance = world.instances.get(id);
        if (instance?.lifecycleState === "InService")
          images[instance.imageId] = (images[instance.imageId] ?? 0) + 1;
      }
      const start = before.get(group.groupName) as {
        version: string;
        min: number;
        max: number;
        desired: number;
      };
      return {
        groupName: group.groupName,
        lowestHealthyInService: observer.lowestHealthy(group.groupName),
        floor: Math.ceil((start.desired * minHealthy(group.groupName)) / 100),
        peakInstances: observer.peakActive(group.groupName),
        before: start,
        after: {
          version: group.launchTemplate.version,
          min: group.minSize,
          max: group.maxSize,
          desired: group.desiredCapacity,
          suspendedProcesses: [...group.suspendedProcesses],
          images,
        },
      };
    }),
    awsApiCalls: {
      total: calls.reduce((sum, [, count]) => sum + count, 0),
      byOperation: Object.fromEntries(calls),
    },
    stepFunctions: {
      stateTransitions: outcomes.reduce((sum, outcome) => sum + outcome.stateTransitions, 0),
      historyEvents: outcomes.reduce((sum, outcome) => sum + outcome.historyEvents, 0),
    },
    lambdaInvocations:
      outcomes.reduce((sum, outcome) => sum + outcome.lambdaInvocations, 0) + sim.invocations.length,
    events: world.events.map((event) => event.detailType),
    iam: {
      authorizations: sim.iam.decisions.length,
      denied: sim.iam.denials.map(
        (denial) => `${denial.functionKey} ${denial.request.action} on ${denial.request.resource}`,
      ),
    },
    invocations: sim.invocations.map((invocation) => ({
      functionKey: invocation.functionKey,
      result: invocation.result,
      error: invocation.error?.message,
    })),
  };
}
