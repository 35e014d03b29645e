// Where a CLI command acts: the deployed stack (through your AWS profile) or the embedded simulated account.
// Both go through the same aws/ adapters and the same state machines; only the clients and the clock differ.
import { randomUUID } from "node:crypto";
import { ensureImageVersion, findImageVersion, resolveLaunchTemplateVersion } from "../functions/aws/ec2";
import { readGroup, readManagedFleet } from "../functions/aws/fleet";
import { invokeFunction } from "../functions/aws/lambda";
import {
  describeExecution,
  executionHistorySince,
  findStateMachineArn,
  startNamedExecution,
} from "../functions/aws/stepfunctions";
import {
  InvalidInputError,
  LaunchTemplateVersionNotFoundError,
  PhoenixError,
} from "../functions/engine/errors";
import { executionName, nameTime } from "../functions/engine/names";
import { assertReplaceable } from "../functions/engine/plan";
import type { ReplacementRequest } from "../functions/engine/policy";
import type { QuarantineRequest } from "../functions/engine/quarantine";
import type { SweepGroupInput } from "../functions/engine/sweep";
import type { LaunchTemplateRef } from "../functions/engine/types";
import { now } from "../functions/runtime/clock";
import { type HereOptions, HereRunner } from "../local/here";
import { loadScenario } from "../local/scenario";
import { resolveInstanceRefs } from "../local/scenario-run";
import { Simulation } from "../local/simulation";
import type { ExecutionOutcome } from "../local/state-machine";
import {
  describeFailure,
  describeQuarantineStep,
  describeReplaceStep,
  formatDuration,
  Timeline,
} from "../local/timeline";
import { HistoryNarrator } from "./history";
import type { Progress } from "./progress";
import type { SweepResult } from "./render";

/** How an execution ended, for the CLI's last line and exit code. */
export interface Outcome {
  status: string;
  error?: string;
  cause?: string;
  summary: string;
  output?: unknown;
  /** Ended in a state reached only before any change (the plan or validation refused the request). */
  refused?: boolean;
}

/** Fail states an execution reaches only before it changed anything: its plan or validation refused it. */
export const REFUSAL_STATES: ReadonlySet<string> = new Set(["PlanRefused", "Refused"]);

type Print = Progress;

/** What the CLI needs from wherever it acts. */
export interface Backend {
  /** The age sweep's plan, read-only. */
  sweepPlan(): Promise<SweepResult>;
  /** Runs the age sweep now (starting its replacements and, where they run here, following them). */
  sweep(print: Print): Promise<{ result: SweepResult; outcomes: Outcome[] }>;
  /** Every managed group with its instances, for the age report. */
  fleet(): Promise<SweepGroupInput[]>;
  /** Starts a replacement and follows it to its end, printing its steps. */
  replace(request: ReplacementRequest, print: Print): Promise<Outcome>;
  /** Starts a quarantine and follows it to its end, printing its steps. */
  quarantine(request: QuarantineRequest, print: Print): Promise<Outcome>;
  /** Releases or disposes of a quarantined instance (the functions of those names). */
  afterQuarantine(action: "release" | "dispose", instanceId: string, dryRun: boolean): Promise<unknown>;
  /** An instance id as given, or (simulator only) "<group>:<index>" for a member of a scenario's group. */
  resolveInstance(reference: string): string;
  close(): Promise<void>;
}

/** Who is running the CLI, for the record. */
export const operator = () => `phoenix cli (${process.env.USER ?? "unknown"})`;

/** Sweep inputs for the age report: every managed group and the image it should run. */
async function readFleetInputs(): Promise<SweepGroupInput[]> {
  const { groups, currentVersions } = await readManagedFleet();
  return groups.map((group) => ({
    group,
    currentImageId: currentVersions.get(group.groupName)?.imageId,
    replacing: false,
    budgetUsed: 0,
  }));
}

// biome-ignore lint/suspicious/noExplicitAny: execution outputs are read loosely for the summary line
function summarize(output: any): string {
  if (!output) return "done";
  if (output.skipped === true) return `skipped: ${output.reason}`;
  if (output.manifests) {
    return `case ${output.caseId}: ${output.manifests.map((item: { instanceId: string; digest: string }) => `${item.instanceId} quarantined, manifest sha256 ${item.digest}`).join("; ")}`;
  }
  if (output.caseId && output.instances)
    return `plan: quarantine ${output.instanceIds.join(", ")} as case ${output.caseId} (nothing changed)`;
  if (Array.isArray(output.waves) && output.instancesToReplace !== undefined) {
    return `plan: ${output.instancesToReplace} instances in ${output.waves.length} waves, about ${formatDuration(output.estimate.totalSeconds)} (nothing changed)`;
  }
  return `${output.instancesReplaced} instances replaced in ${output.waves} waves, ${formatDuration(output.durationSeconds)}`;
}

const quarantineName = (request: QuarantineRequest) =>
  executionName("quarantine", request.caseId ?? nameTime(now()));

/** The embedded simulated account of a scenario (a fresh one per command: nothing persists between commands). */
export async function localBackend(scenarioName = "default"): Promise<Backend & { simulation: Simulation }> {
  const simulation = await Simulation.fromScenario(loadScenario(scenarioName));
  const follow = async (machine: string, name: string, input: unknown, print: Print): Promise<Outcome> => {
    const timeline = new Timeline(simulation.world, print);
    simulation.world.onLog(timeline.onWorldLog);
    let failedIn: string | undefined;
    const ended = await simulation.run(machine, input, {
      executionName: name,
      onEvent: (event) => {
        if (event.type === "StateEntered" && event.stateType === "Fail") failedIn = event.stateName;
        timeline.onExecutionEvent(event);
      },
    });
    return outcomeOf({ ...ended, refused: REFUSAL_STATES.has(failedIn ?? "") });
  };
  return {
    async sweepPlan() {
      return (await simulation.invoke("sweepFleet", {
        ...simulation.scheduledEvent(),
        dryRun: true,
      })) as SweepResult;
    },
    async sweep(print) {
      const timeline = new Timeline(simulation.world, print);
      simulation.world.onLog(timeline.onWorldLog);
      simulation.onExecutionEvent(timeline.onExecutionEvent);
      const result = (await simulation.invoke("sweepFleet", simulation.scheduledEvent())) as SweepResult;
      await simulation.idle();
      const ended = [...simulation.executions.values()].flatMap((execution) =>
        execution.outcome ? [[execution.name, execution.outcome] as const] : [],
      );
      return { result, outcomes: sweepOutcomes(result, new Map(ended)) };
    },
    fleet: readFleetInputs,
    replace: (request, print) =>
      follow("replace-group", executionName("cli", request.groupName, nameTime(now())), request, print),
    quarantine: (request, print) => follow("quarantine-instance", quarantineName(request), request, print),
    afterQuarantine: (action, instanceId, dryRun) =>
      simulation.invoke(action === "release" ? "releaseQuarantine" : "disposeQuarantine", {
        instanceId,
        dryRun,
        requestedBy: operator(),
      }),
    resolveInstance: (reference) =>
      /^i-/.test(reference) ? reference : resolveInstanceRefs(`{{instance:${reference}}}`, simulation.world),
    close: () => simulation.close(),
    simulation,
  };
}

/** What the CLI says of an execution that ended (prefixed with its group, for a sweep's). */
function outcomeOf(
  ended: { status: string; error?: string; cause?: string; output?: unknown; refused?: boolean },
  groupName?: string,
): Outcome {
  const summary = summarize(ended.output);
  return {
    status: ended.status,
    error: ended.error,
    cause: ended.cause,
    summary: groupName ? `${groupName}: ${summary}` : summary,
    output: ended.output,
    ...(ended.status !== "SUCCEEDED" ? { refused: ended.refused === true } : {}),
  };
}

/** The outcome of each replacement a sweep started, from the executions that ran it (by name). */
function sweepOutcomes(result: SweepResult, ended: Map<string, ExecutionOutcome>): Outcome[] {
  return (result.replacements ?? []).flatMap((started) => {
    const outcome = ended.get(started.executionName);
    return outcome ? [outcomeOf(outcome, started.groupName)] : [];
  });
}

/**
 * Pull mode: the workflows run in this process against the account your AWS configuration reaches, with
 * real waits and live progress. Nothing needs to be deployed.
 */
export async function hereBackend(options: HereOptions): Promise<Backend & { runner: HereRunner }> {
  const runner = await HereRunner.open(options);
  const clock = () => options.time?.now() ?? Date.now();
  let printTo: Print | undefined;
  const timeline = new Timeline(undefined, (line) => printTo?.(line), clock);
  runner.onExecutionEvent(timeline.onExecutionEvent);
  const failedIn = new Map<string, string>();
  // Real waits and retries are long: say what the run is waiting for, and for how long.
  const lastFailure = new Map<string, string>();
  runner.onExecutionEvent((event) => {
    const state = event.stateName ?? "";
    if (event.type === "StateEntered" && event.stateType === "Fail") failedIn.set(event.executionName, state);
    if (event.type === "StateEntered" && event.stateType === "Task")
      printTo?.status?.(`${state}: calling AWS`);
    if (event.type === "StateExited") printTo?.status?.(undefined);
    if (event.type === "StateFailed" && event.error)
      lastFailure.set(`${event.executionName}/${state}`, describeFailure(event.error, event.cause));
    if (event.type === "StateRetried" && event.retry) {
      const { attempt, maxAttempts, delaySeconds } = event.retry;
      const why = lastFailure.get(`${event.executionName}/${state}`) ?? "failed";
      printTo?.(
        `          ${state}: ${why}; retry ${attempt} of ${maxAttempts} in ${formatDuration(delaySeconds)}`,
      );
      printTo?.status?.(`${state}: retry ${attempt} of ${maxAttempts}`, clock() + delaySeconds * 1000);
    }
    if (event.waitSeconds !== undefined && event.waitSeconds >= 5) {
      printTo?.(`          waiting ${formatDuration(event.waitSeconds)} (${state})`);
      printTo?.status?.(`waiting (${state})`, clock() + event.waitSeconds * 1000);
    }
  });
  const note = (print: Print) => {
    if (runner.stateDir)
      print(
        `note: locks and quarantine records are kept in ${runner.stateDir} on this machine; pass --table <name> to share a deployed stack's`,
      );
  };
  const follow = async (
    machine: string,
    name: string,
    input: unknown,
    dryRun: boolean,
    print: Print,
  ): Promise<Outcome> => {
    printTo = print;
    if (!dryRun) note(print);
    let outcome = await runner.run(machine, input, { executionName: name, dryRun });
    // A replacement too long for one execution's history continues in another, also run here.
    for (;;) {
      const next = (outcome.output as { continuedIn?: { executionArn?: string } } | undefined)?.continuedIn;
      const child = next?.executionArn ? runner.executions.get(next.executionArn) : undefined;
      if (!child) break;
      outcome = await child.done;
    }
    await runner.idle();
    return outcomeOf({ ...outcome, refused: REFUSAL_STATES.has(failedIn.get(name) ?? "") });
  };
  const scheduled = () => ({
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    time: new Date(clock()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    resources: [],
    detail: {},
  });
  return {
    async sweepPlan() {
      return (await runner.invoke("sweepFleet", { ...scheduled(), dryRun: true })) as SweepResult;
    },
    async sweep(print) {
      printTo = print;
      note(print);
      const result = (await runner.invoke("sweepFleet", scheduled())) as SweepResult;
      await runner.idle();
      const ended = await Promise.all(
        [...runner.executions.values()].map(
          async (execution) => [execution.name, await execution.done] as const,
        ),
      );
      return { result, outcomes: sweepOutcomes(result, new Map(ended)) };
    },
    fleet: readFleetInputs,
    replace: (request, print) =>
      follow(
        "replace-group",
        executionName("cli", request.groupName, nameTime(now())),
        request,
        request.dryRun,
        print,
      ),
    quarantine: (request, print) =>
      follow("quarantine-instance", quarantineName(request), request, request.dryRun, print),
    afterQuarantine: (action, instanceId, dryRun) =>
      runner.invoke(action === "release" ? "releaseQuarantine" : "disposeQuarantine", {
        instanceId,
        dryRun,
        requestedBy: operator(),
      }),
    resolveInstance: (reference) => reference,
    close: () => runner.close(),
    runner,
  };
}

/**
 * The launch template version a replacement onto `imageId` rolls onto: the group's current one if it
 * already carries the image, else the one Phoenix made for it before, else (not in a dry run) a new version
 * copied from the current one with only the image changed.
 */
export async function versionForImage(groupName: string, imageId: string, dryRun: boolean): Promise<string> {
  const group = await readGroup(groupName);
  assertReplaceable(group);
  const template = group.launchTemplate as LaunchTemplateRef;
  const current = await resolveLaunchTemplateVersion(template.launchTemplateId, template.version);
  if (!current) throw new LaunchTemplateVersionNotFoundError(template.launchTemplateId, template.version);
  if (current.imageId === imageId) return current.version;
  const existing = await findImageVersion(template.launchTemplateId, imageId);
  if (existing) return existing.version;
  if (dryRun)
    throw new InvalidInputError(
      [
        {
          path: "--image",
          message: `no version of launch template ${template.launchTemplateId} carries ${imageId} yet, and a dry run creates none: run without --dry-run (it creates one from version ${current.version} with only the image changed)`,
        },
      ],
      "option",
    );
  const created = await ensureImageVersion({
    launchTemplateId: template.launchTemplateId,
    sourceVersion: current.version,
    imageId,
    note: `phoenix replace --image, from version ${current.version}`,
  });
  return created.version;
}

const FOLLOW_INTERVAL_MS = 3000;

/** The deployed stack of a stage, through the standard AWS configuration (profile, region, endpoints). */
export function deployedBackend(stage: string): Backend {
  const stateMachineArn = async (machine: string) => {
    const name = `phoenix-${machine}-${stage}`;
    const arn = await findStateMachineArn(name);
    if (!arn)
      throw new PhoenixError(
        `No state machine ${name} in this account and region: is Phoenix deployed with --stage ${stage}?`,
      );
    return arn;
  };
  /** Starts an execution and prints its finished Tasks, waits and retries until it ends. */
  const follow = async (
    machine: string,
    name: string,
    input: unknown,
    describe: (stateName: string, input: unknown, output: unknown) => string | undefined,
    print: Print,
  ): Promise<Outcome> => {
    const { executionArn } = await startNamedExecution({
      stateMachineArn: await stateMachineArn(machine),
      name,
      input,
    });
    print(`started ${executionArn}`);
    const narrator = new HistoryNarrator(machine, describe, print);
    let lastId = 0;
    for (;;) {
      for (const event of await executionHistorySince(executionArn, lastId)) {
        lastId = Math.max(lastId, event.id ?? 0);
        narrator.onEvent(event);
      }
      const execution = await describeExecution(executionArn);
      if (execution.status !== "RUNNING")
        return outcomeOf({ ...execution, refused: REFUSAL_STATES.has(narrator.failState ?? "") });
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
    }
  };
  /** A dry run needs no execution: the planning step, invoked on its own, returns the plan and changes nothing. */
  const planOnly = async (functionKey: string, name: string, request: unknown): Promise<Outcome> => {
    try {
      const { plan } = (await invokeFunction(`phoenix-${stage}-${functionKey}`, {
        executionId: `dry-run:${name}`,
        request,
      })) as { plan?: unknown };
      return outcomeOf({ status: "SUCCEEDED", output: plan });
    } catch (error) {
      // The planning function refused the request (or could not be reached): nothing was changed.
      return {
        status: "FAILED",
        error: (error as Error).name,
        cause: (error as Error).message,
        summary: "",
        refused: true,
      };
    }
  };
  return {
    async sweepPlan() {
      return (await invokeFunction(`phoenix-${stage}-sweepFleet`, { dryRun: true })) as SweepResult;
    },
    async sweep(print) {
      const result = (await invokeFunction(`phoenix-${stage}-sweepFleet`, {})) as SweepResult;
      for (const started of result.replacements ?? [])
        print(
          `started ${started.executionName} for ${started.groupName} (follow it in the Step Functions console)`,
        );
      return { result, outcomes: [] };
    },
    fleet: readFleetInputs,
    replace: (request, print) => {
      const name = executionName("cli", request.groupName, nameTime(now()));
      return request.dryRun
        ? planOnly("planReplacement", name, request)
        : follow("replace-group", name, request, describeReplaceStep, print);
    },
    quarantine: (request, print) =>
      request.dryRun
        ? planOnly("validateQuarantine", quarantineName(request), request)
        : follow("quarantine-instance", quarantineName(request), request, describeQuarantineStep, print),
    afterQuarantine: (action, instanceId, dryRun) =>
      invokeFunction(`phoenix-${stage}-${action === "release" ? "releaseQuarantine" : "disposeQuarantine"}`, {
        instanceId,
        dryRun,
        requestedBy: operator(),
      }),
    resolveInstance: (reference) => reference,
    close: async () => {},
  };
}
