// A readable live timeline of a simulated run: what Phoenix did (from the state machine's events) and what
// the simulated AWS did meanwhile (launches, health, draining, terminations), in simulated time.
import type { SimLogEntry } from "./sim/model";
import type { SimWorld } from "./sim/world";
import type { ExecutionEvent } from "./state-machine";

/** Formats seconds as 1h 02m 03s / 2m 03s / 3.2s. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h > 0
    ? `${h}h ${String(m).padStart(2, "0")}m ${String(s).padStart(2, "0")}s`
    : `${m}m ${String(s).padStart(2, "0")}s`;
}

const clockTime = (ms: number) => {
  const tenths = Math.round(Math.max(0, ms) / 100);
  const h = Math.floor(tenths / 36000);
  const m = Math.floor((tenths % 36000) / 600);
  const s = (tenths % 600) / 10;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${s.toFixed(1).padStart(4, "0")}`;
};

const list = (ids: unknown) => (Array.isArray(ids) ? ids.join(", ") : "");

// biome-ignore lint/suspicious/noExplicitAny: step outputs are read loosely for display only
type Loose = any;

/** Prints one line per Phoenix step and per notable AWS happening, with the group's serving capacity. */
export class Timeline {
  private readonly startedAt: number;
  private waves = 0;

  constructor(
    private readonly world: SimWorld,
    private readonly groupName: string,
    private readonly write: (line: string) => void,
  ) {
    this.startedAt = world.clock.now();
  }

  /** Feed it the simulated account's log entries. */
  onWorldLog = (entry: SimLogEntry): void => {
    if (entry.groupName && entry.groupName !== this.groupName) return;
    const shown: SimLogEntry["kind"][] = [
      "instance-launched",
      "target-healthy",
      "target-unhealthy",
      "target-drained",
      "instance-terminated",
      "launch-failed",
    ];
    if (shown.includes(entry.kind)) this.line(entry.at, "  aws", entry.message);
  };

  /** Feed it the execution's events. */
  onExecutionEvent = (event: ExecutionEvent): void => {
    if (event.type === "ExecutionFailed") {
      this.line(event.at, "phoenix", `execution failed: ${event.error}: ${event.cause ?? ""}`);
      return;
    }
    if (event.type !== "StateExited" || event.stateType !== "Task" || !event.stateName) return;
    const input = event.input as Loose;
    const output = event.output as Loose;
    const message = this.describe(event.stateName, input, output);
    if (message) this.line(event.at, this.stepLabel(input), message);
  };

  private stepLabel(input: Loose): string {
    const index = input?.wave?.index;
    return typeof index === "number" ? `wave ${index + 1}/${this.waves}` : "phoenix";
  }

  private describe(stateName: string, input: Loose, output: Loose): string | undefined {
    switch (stateName) {
      case "Plan": {
        const plan = output?.plan;
        if (!plan) return undefined;
        this.waves = plan.waves.length;
        const { capacity, target } = plan;
        return (
          `plan: replace ${plan.instancesToReplace} of ${capacity.desired} instances in ${plan.waves.length} waves ` +
          `(up to ${capacity.batchSize} at a time, floor ${capacity.floor}, surge ${capacity.surge}) onto ${target.launchTemplateName} ` +
          `version ${target.version} (${target.imageId}); estimate ${formatDuration(plan.estimate.totalSeconds)}` +
          (output.request?.dryRun ? " [dry run: nothing will change]" : "")
        );
      }
      case "Prepare": {
        const prepared = output?.prepared;
        return `prepare: pinned launch template version ${prepared.pinnedVersion}, MaxSize ${prepared.maxSize}, MinSize ${prepared.minSize}, suspended ${list(prepared.suspendedByPhoenix) || "nothing"}`;
      }
      case "StartWave":
        return `start: replacing ${list(input.wave.instanceIds)}`;
      case "DrainFirst":
      case "ShiftTraffic":
        return `shift traffic: deregistered ${list(stateName === "DrainFirst" ? input.wave.retireFirst : input.wave.retireAfter)}, draining ${output.drain.nextCheckSeconds}s`;
      case "RetireFirst":
      case "Retire": {
        const result = stateName === "Retire" ? output.retired : output.retiredFirst;
        const skipped = (result.skipped ?? []).map((item: Loose) => `${item.instanceId} (${item.why})`);
        return `retire: terminated ${list(result.terminated) || "none"}${skipped.length ? `; skipped ${skipped.join(", ")}` : ""}`;
      }
      case "LaunchWave":
        return `launch ${output.launch.launchCount}: desired capacity ${output.launch.desiredBefore} -> ${output.launch.desiredAfter}`;
      case "CheckWave": {
        const readiness = output.readiness;
        if (readiness.ready) return `ready: ${list(readiness.newInstanceIds)} InService and healthy`;
        if (readiness.timedOut) return `NOT READY before the timeout: ${readiness.waiting.join("; ")}`;
        return undefined;
      }
      case "ProbeWave":
      case "ProbeAfterBake": {
        const verdict = output.verdict;
        const checks = verdict.checks.map((check: Loose) => check.check).join(", ");
        if (!verdict.passed) return `probes FAILED: ${verdict.reasons.join("; ")}`;
        return `probes passed (${checks})${verdict.bakeSeconds > 0 ? `; baking ${verdict.bakeSeconds}s` : ""}`;
      }
      case "RollbackWave":
        return `ROLL BACK: terminated ${list(output.rollback.terminated) || "nothing"}, returned ${list(output.rollback.reregistered) || "nothing"} to service`;
      case "RestoreGroup": {
        const update = output.restore.restoration.update;
        return `restored launch template version ${update.launchTemplate?.version}, min ${update.minSize}, max ${update.maxSize}, desired ${update.desiredCapacity}; resumed ${list(output.restore.restoration.resumeProcesses) || "nothing"}`;
      }
      case "Finish":
        return `finish: ${output.summary.instancesReplaced} instances replaced; MaxSize, MinSize and processes restored; event Replacement Completed`;
      default:
        return undefined;
    }
  }

  private line(at: number, label: string, message: string): void {
    const healthy = this.world.healthyInService(this.groupName).length;
    const group = this.world.groups.get(this.groupName);
    this.write(
      `${clockTime(at - this.startedAt)}  ${label.padEnd(10)} ${message}  [serving ${healthy}/${group?.desiredCapacity ?? "?"}]`,
    );
  }
}
