// The fault-injection campaign: each run is drawn from a seed (local/chaos/generate.ts), injected with its
// faults, run through the real state machines and handlers on the simulator, and watched by the independent
// monitor (local/chaos/monitor) at every simulated moment.

import { runScenario } from "../scenario-run";
import { Simulation } from "../simulation";
import { PHOENIX_BUS, readStack } from "../stack";
import { type ChaosRun, drawRun, type Fault, type FaultKind, runSeed } from "./generate";
import { InvariantMonitor, type Violation } from "./monitor";
import type { ExecutionFacts } from "./monitor/facts";
import { sweepPeriodSeconds } from "./monitor/removals";
import { eventualConsistencyActed, shapesOf } from "./quarantine-faults";

/** How one execution ended, in the campaign's words. */
export type ExecutionResult = "completed" | "rolled back" | "skipped" | "refused" | "stopped" | "failed";

/** What one run did and broke. */
export interface RunResult {
  seed: number;
  trigger: ChaosRun["trigger"];
  faults: FaultKind[];
  /** Faults that actually acted (a throttled call, a failed launch, a task that threw...), by kind. */
  injected: Partial<Record<FaultKind, number>>;
  executions: {
    stateMachine: string;
    name: string;
    result: ExecutionResult;
    error?: string;
    /** For executions that did not complete: the first line of the cause, to explain them. */
    cause?: string;
  }[];
  /** Replacements the janitor reclaimed after a stop, and retired instances the sweep found left over. */
  reclaimed: number;
  orphansReaped: number;
  /** Scheduled sweeps the campaign let run after the work ended, to finish what stopped executions left. */
  tailSweeps: number;
  violations: Violation[];
  /** Calls of Phoenix's functions evaluated by IAM against their roles in the packaged template. */
  iamAuthorizations: number;
  /** Calls of Phoenix's functions IAM denied (or, with enforcement off, would have denied). */
  iamDenials: number;
  simulatedSeconds: number;
  wallMilliseconds: number;
}

/** Something a run changes about the simulation before it starts (the sabotage catalogue's hook). */
export type RunSetup = (sim: Simulation, run: ChaosRun) => void | Promise<void>;

/** Names an error so the state machine's Retry and Catch match it, as Lambda reports it. */
function lambdaError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

const has = <K extends Fault["kind"]>(faults: Fault[], kind: K) =>
  faults.find((fault): fault is Extract<Fault, { kind: K }> => fault.kind === kind);

/** Runs one drawn run to its end and checks every invariant. `write` receives the timeline, if wanted. */
export async function runChaos(
  run: ChaosRun,
  write?: (line: string) => void,
  setup?: RunSetup,
): Promise<RunResult> {
  const wallStart = performance.now();
  const sim = await Simulation.fromScenario(run.scenario);
  const { world } = sim;
  const monitor = new InvariantMonitor(sim);
  const injected: Partial<Record<FaultKind, number>> = {};
  const count = (kind: FaultKind, n = 1) => {
    injected[kind] = (injected[kind] ?? 0) + n;
  };
  const say = (line: string) => write?.(`chaos: ${line}`);
  const startedAt = world.clock.now();
  const faults = run.faults;
  await setup?.(sim, run);

  // Faults of the account itself.
  const throttling = has(faults, "throttling");
  if (throttling) world.faults.throttleShare = throttling.share;
  const capacity = has(faults, "insufficient-capacity");
  if (capacity) world.faults.insufficientCapacityLaunches = capacity.launches;
  const silent = has(faults, "silent-instances");
  if (silent) world.faults.silentLaunches = silent.launches;
  const duplicates = has(faults, "duplicate-delivery");
  if (duplicates) {
    sim.duplicateDeliveries = duplicates.copies;
    count("duplicate-delivery", duplicates.copies);
  }

  // Faults of Lambda: the nth Task of the run fails before running (a crash) or after (a lost response).
  const taskError = has(faults, "task-error");
  const taskTimeout = has(faults, "task-timeout");
  let tasks = 0;
  const inner = sim.interceptTask;
  sim.interceptTask = async (task, call) => {
    tasks++;
    if (taskError && tasks === taskError.nthTask) {
      count("task-error");
      say(`${task.stateName} (${task.functionKey}) crashes`);
      throw taskError.transient
        ? lambdaError("Lambda.ServiceException", "Lambda was unable to run the function")
        : lambdaError(
            "Runtime.ExitError",
            "RequestId: chaos Error: Runtime exited with error: signal: killed",
          );
    }
    const result = await (inner ? inner(task, call) : call());
    if (taskTimeout && tasks === taskTimeout.nthTask) {
      count("task-timeout");
      say(`${task.stateName} (${task.functionKey}) did its work but timed out`);
      // A function past its timeout reaches the state machine as Lambda.Unknown (Task timeouts are longer):
      // https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
      throw lambdaError("Lambda.Unknown", "Task timed out after 30.00 seconds");
    }
    return result;
  };

  // The trigger, and a second one for the same group at the same moment.
  const replaceGroupArn = [...readStack().stateMachines.values()].find(
    (machine) => machine.file === "replace-group",
  )?.arn as string;
  const firstGroup = run.groupNames[0] as string;
  if (has(faults, "concurrent-trigger")) {
    count("concurrent-trigger");
    sim.at(0, () => {
      if (run.trigger === "age-sweep")
        return sim.invoke("sweepFleet", sim.scheduledEvent()).catch(() => undefined);
      return sim.startExecution(
        replaceGroupArn,
        `chaos-${run.seed}-second`,
        JSON.stringify({ groupName: firstGroup, reason: "manual", targetVersion: "2", requestedBy: "chaos" }),
      ).done;
    });
  }
  const outOfOrder = has(faults, "out-of-order");
  if (outOfOrder) {
    // The target image's event is put first but delivered after a newer image's event.
    count("out-of-order");
    sim.deliveryDelay = (event) =>
      (event.detail as { imageId?: string }).imageId === run.images.target ? outOfOrder.delaySeconds : 0;
    sim.at(5, () =>
      sim.putEvent({
        eventBusName: PHOENIX_BUS,
        source: "phoenix.publisher",
        detailType: "Image Published",
        detail: { imageId: run.images.newer, channel: "app" },
      }),
    );
  }

  // Faults of the world around Phoenix, at a moment of the rollout.
  for (const fault of faults) {
    const group = world.requireGroup(firstGroup);
    if (fault.kind === "scaling-policy") {
      sim.at(fault.atSeconds, () => {
        const before = group.desiredCapacity;
        const after = world.scalingPolicy(group, fault.delta);
        if (after === undefined) return;
        count("scaling-policy");
        say(`a scaling policy moves ${group.groupName} from ${before} to ${after}`);
      });
    }
    if (fault.kind === "az-rebalance") {
      sim.at(fault.atSeconds, () => {
        if (!world.rebalance(group)) return;
        count("az-rebalance");
        say(`AZRebalance launches into ${group.groupName}`);
      });
    }
    if (fault.kind === "quarantine") {
      sim.at(fault.atSeconds, () => {
        const members = group.instanceIds.filter(
          (id) => world.instances.get(id)?.lifecycleState === "InService",
        );
        const suspect = members[fault.memberIndex % Math.max(1, members.length)];
        if (!suspect) return;
        count("quarantine");
        for (const shape of shapesOf(world.requireInstance(suspect), faults)) count(shape);
        say(`a responder quarantines ${suspect}`);
        sim.putEvent({
          eventBusName: PHOENIX_BUS,
          source: "phoenix.responder",
          detailType: "Quarantine Requested",
          detail: { instanceIds: [suspect], reason: "chaos: suspected compromise", requestedBy: "chaos" },
        });
      });
    }
    if (fault.kind === "stop-execution" || fault.kind === "execution-timeout") {
      sim.at(fault.atSeconds, () => {
        // The replacement that has run longest (the rollout the operator watches).
        const target = [...sim.executions.values()]
          .filter(
            (execution) => execution.stateMachineArn === replaceGroupArn && execution.status === "RUNNING",
          )
          .sort((a, b) => a.startDate - b.startDate)[0];
        const how = fault.kind === "stop-execution" ? "aborted" : "timed-out";
        if (!target || !sim.stopExecution(target.executionArn, how)) return;
        count(fault.kind);
        say(`${target.name} ${how === "aborted" ? "is stopped (StopExecution)" : "times out"}`);
      });
    }
  }

  await runScenario(run.scenario, write ?? (() => {}), sim);
  // What stopped executions left out of service, the janitor names and the scheduled sweep terminates:
  // let the schedule run (at its deployed rate) until nothing is left or the bound has passed.
  const period = sweepPeriodSeconds() * 1000;
  let tailSweeps = 0;
  while (monitor.pendingRetired().length > 0 && tailSweeps < 3) {
    const now = world.clock.now();
    const nextTick = startedAt + Math.ceil((now - startedAt + 1) / period) * period;
    tailSweeps++;
    sim.at((nextTick - now) / 1000, () =>
      sim.invoke("sweepFleet", sim.scheduledEvent()).catch(() => undefined),
    );
    await sim.idle();
    world.clock.advanceBy(120_000);
  }
  // The monitor's own reads are not part of the experiment.
  world.faults.throttleShare = 0;
  await monitor.finish();
  if (throttling)
    count(
      "throttling",
      [...world.throttled.values()].reduce((sum, n) => sum + n, 0),
    );
  if (capacity) count("insufficient-capacity", capacity.launches - world.faults.insufficientCapacityLaunches);
  if (silent) count("silent-instances", silent.launches - world.faults.silentLaunches);
  if (has(faults, "bad-image")) count("bad-image");
  const notYetVisible = eventualConsistencyActed(sim.journal);
  if (has(faults, "sg-eventual-consistency") && notYetVisible > 0)
    count("sg-eventual-consistency", notYetVisible);
  const orphansReaped = [...world.instances.values()].filter(
    (instance) => instance.terminatedBy?.caller?.functionKey === "sweepFleet",
  ).length;
  const reclaimed = world.events.filter((event) => event.detailType === "Replacement Abandoned").length;
  await sim.close();

  return {
    seed: run.seed,
    trigger: run.trigger,
    faults: faults.map((fault) => fault.kind),
    injected,
    executions: [...monitor.facts.executions.values()].map((execution) => ({
      stateMachine: execution.machine,
      name: execution.name,
      result: resultOf(execution),
      error: execution.error,
      cause:
        execution.status === "SUCCEEDED"
          ? undefined
          : (sim.executions.get(execution.arn)?.cause ?? "").split("\n")[0]?.slice(0, 160),
    })),
    reclaimed,
    orphansReaped,
    iamAuthorizations: sim.iam.decisions.length,
    iamDenials: sim.iam.denials.length,
    tailSweeps,
    violations: monitor.violations,
    simulatedSeconds: Math.round((world.clock.now() - startedAt) / 1000),
    wallMilliseconds: Math.round(performance.now() - wallStart),
  };
}

function resultOf(execution: ExecutionFacts): ExecutionResult {
  if (execution.status === "SUCCEEDED") return execution.output?.skipped === true ? "skipped" : "completed";
  if (execution.status === "ABORTED" || execution.status === "TIMED_OUT") return "stopped";
  // A halted image rollout stopped because a group's replacement rolled back.
  if (execution.error === "ReplacementRolledBack" || execution.error === "ImageRolloutHalted")
    return "rolled back";
  if (execution.machine === "replace-group" && execution.firstChangeAt === undefined) return "refused";
  return "failed";
}

/** A campaign's figures: what ran, what was injected, how executions ended, what broke. */
export interface CampaignResult {
  seed: number;
  runs: RunResult[];
  wallSeconds: number;
}

/** Runs `runs` runs drawn from `seed`, one after another (one simulated account at a time). */
export async function runCampaign(
  seed: number,
  runs: number,
  progress?: (done: number, result: RunResult) => void,
): Promise<CampaignResult> {
  const started = performance.now();
  const results: RunResult[] = [];
  for (let index = 0; index < runs; index++) {
    const result = await runChaos(drawRun(runSeed(seed, index)));
    results.push(result);
    progress?.(index + 1, result);
  }
  return { seed, runs: results, wallSeconds: (performance.now() - started) / 1000 };
}
