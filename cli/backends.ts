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
import type { SweepGroupInput } from "../functions/engine/sweep";
import { now } from "../functions/runtime/clock";
import { loadScenario } from "../local/scenario";
import { Simulation } from "../local/simulation";
import { describeReplaceStep, formatDuration, Timeline } from "../local/timeline";
import type { SweepResult } from "./render";

/** How a replacement ended, for the CLI's last line and exit code. */
export interface ReplaceOutcome {
  status: string;
  error?: string;
  cause?: string;
  summary: string;
}

/** What the CLI needs from wherever it acts. */
export interface Backend {
  /** The age sweep's plan, read-only. */
  sweepPlan(): Promise<SweepResult>;
  /** Every managed group with its instances, for the age report. */
  fleet(): Promise<SweepGroupInput[]>;
  /** Starts a replacement and follows it to its end, printing its steps. */
  replace(request: ReplacementRequest, print: (line: string) => void): Promise<ReplaceOutcome>;
  close(): Promise<void>;
}

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
  if (output.waves && Array.isArray(output.waves) && output.instancesToReplace !== undefined) {
    return `plan: ${output.instancesToReplace} instances in ${output.waves.length} waves, about ${formatDuration(output.estimate.totalSeconds)} (nothing changed)`;
  }
  return `${output.instancesReplaced} instances replaced in ${output.waves} waves, ${formatDuration(output.durationSeconds)}`;
}

/** The embedded simulated account of a scenario. */
export async function localBackend(scenarioName: string): Promise<Backend> {
  const simulation = await Simulation.fromScenario(loadScenario(scenarioName));
  return {
    async sweepPlan() {
      return (await simulation.invoke("sweepFleet", {
        ...simulation.scheduledEvent(),
        dryRun: true,
      })) as SweepResult;
    },
    fleet: readFleetInputs,
    async replace(request, print) {
      const timeline = new Timeline(simulation.world, print);
      simulation.world.onLog(timeline.onWorldLog);
      const outcome = await simulation.run("replace-group", request, {
        executionName: executionName("cli", request.groupName, nameTime(now())),
        onEvent: timeline.onExecutionEvent,
      });
      return {
        status: outcome.status,
        error: outcome.error,
        cause: outcome.cause,
        summary: summarize(outcome.output),
      };
    },
    close: () => simulation.close(),
  };
}

const FOLLOW_INTERVAL_MS = 3000;

/** The deployed stack of a stage, through the standard AWS configuration (profile, region, endpoints). */
export function deployedBackend(stage: string): Backend {
  const stateMachineArn = async () => {
    const name = `phoenix-replace-group-${stage}`;
    const arn = await findStateMachineArn(name);
    if (!arn)
      throw new PhoenixError(
        `No state machine ${name} in this account and region: is Phoenix deployed with --stage ${stage}?`,
      );
    return arn;
  };
  return {
    async sweepPlan() {
      return (await invokeFunction(`phoenix-${stage}-sweepFleet`, { dryRun: true })) as SweepResult;
    },
    fleet: readFleetInputs,
    async replace(request, print) {
      const { executionArn } = await startNamedExecution({
        stateMachineArn: await stateMachineArn(),
        name: executionName("cli", request.groupName, nameTime(now())),
        input: request,
      });
      print(`started ${executionArn}`);
      let lastId = 0;
      for (;;) {
        const events = await executionHistorySince(executionArn, lastId);
        for (const event of events) {
          lastId = Math.max(lastId, event.id ?? 0);
          const exited = event.stateExitedEventDetails;
          if (event.type === "TaskStateExited" && exited?.name && exited.output) {
            const output = JSON.parse(exited.output);
            const line = describeReplaceStep(exited.name, output, output);
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
          };
        }
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
      }
    },
    close: async () => {},
  };
}
