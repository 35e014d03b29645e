// Where a CLI command acts: the deployed stack (through your AWS profile) or the embedded simulated account.
// Both go through the same aws/ adapters and the same state machines; only the clients and the clock differ.
import { readManagedFleet } from "../functions/aws/fleet";
import { invokeFunction } from "../functions/aws/lambda";
import {
  describeExecution,
  executionHistorySince,
  findStateMachineArn,
  startNamedExecution,
} from "../functions/aws/stepfunctions";
import { PhoenixError } from "../functions/engine/errors";
import { executionName, nameTime } from "../functions/engine/names";
import type { ReplacementRequest } from "../functions/engine/policy";
import type { QuarantineRequest } from "../functions/engine/quarantine";
import type { SweepGroupInput } from "../functions/engine/sweep";
import { now } from "../functions/runtime/clock";
import { loadScenario } from "../local/scenario";
import { resolveInstanceRefs } from "../local/scenario-run";
import { Simulation } from "../local/simulation";
import { describeQuarantineStep, describeReplaceStep, formatDuration, Timeline } from "../local/timeline";
import type { SweepResult } from "./render";

/** How an execution ended, for the CLI's last line and exit code. */
export interface Outcome {
  status: string;
  error?: string;
  cause?: string;
  summary: string;
  output?: unknown;
}

type Print = (line: string) => void;

/** What the CLI needs from wherever it acts. */
export interface Backend {
  /** The age sweep's plan, read-only. */
  sweepPlan(): Promise<SweepResult>;
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
  if (output.skipped) return `skipped: ${output.reason}`;
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
export async function localBackend(scenarioName: string): Promise<Backend & { simulation: Simulation }> {
  const simulation = await Simulation.fromScenario(loadScenario(scenarioName));
  const follow = async (machine: string, name: string, input: unknown, print: Print): Promise<Outcome> => {
    const timeline = new Timeline(simulation.world, print);
    simulation.world.onLog(timeline.onWorldLog);
    const outcome = await simulation.run(machine, input, {
      executionName: name,
      onEvent: timeline.onExecutionEvent,
    });
    return {
      status: outcome.status,
      error: outcome.error,
      cause: outcome.cause,
      summary: summarize(outcome.output),
      output: outcome.output,
    };
  };
  return {
    async sweepPlan() {
      return (await simulation.invoke("sweepFleet", {
        ...simulation.scheduledEvent(),
        dryRun: true,
      })) as SweepResult;
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
  /** Starts an execution and prints its finished Tasks until it ends. */
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
    let lastId = 0;
    for (;;) {
      for (const event of await executionHistorySince(executionArn, lastId)) {
        lastId = Math.max(lastId, event.id ?? 0);
        const exited = event.stateExitedEventDetails;
        if (event.type === "TaskStateExited" && exited?.name && exited.output) {
          const output = JSON.parse(exited.output);
          const line = describe(exited.name, output, output);
          if (line) print(`${event.timestamp?.toISOString() ?? ""}  ${line}`);
        }
      }
      const execution = await describeExecution(executionArn);
      if (execution.status !== "RUNNING") {
        return {
          status: execution.status,
          error: execution.error,
          cause: execution.cause,
          summary: summarize(execution.output),
          output: execution.output,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
    }
  };
  return {
    async sweepPlan() {
      return (await invokeFunction(`phoenix-${stage}-sweepFleet`, { dryRun: true })) as SweepResult;
    },
    fleet: readFleetInputs,
    replace: (request, print) =>
      follow(
        "replace-group",
        executionName("cli", request.groupName, nameTime(now())),
        request,
        describeReplaceStep,
        print,
      ),
    quarantine: (request, print) =>
      follow("quarantine-instance", quarantineName(request), request, describeQuarantineStep, print),
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
