// A readable live timeline of a simulated run: what Phoenix did (from its executions' events and its
// functions' results) and what the simulated AWS did meanwhile (launches, health, draining, terminations),
// in simulated time, with each group's serving capacity.
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

/** Describes one finished replace-group Task for a person; undefined for steps not worth a line. */
export function describeReplaceStep(stateName: string, input: Loose, output: Loose): string | undefined {
  switch (stateName) {
    case "Plan": {
      const plan = output?.plan;
      if (!plan) return undefined;
      const { capacity, target } = plan;
      return (
        `plan: replace ${plan.instancesToReplace} of ${capacity.desired} instances in ${plan.waves.length} waves ` +
        `(up to ${capacity.batchSize} at a time, floor ${capacity.floor}, surge ${capacity.surge}) onto ${target.launchTemplateName} ` +
        `version ${target.version} (${target.imageId}); estimate ${formatDuration(plan.estimate.totalSeconds)}` +
        (output.request?.dryRun ? " [dry run: nothing will change]" : "")
      );
    }
    case "AcquireLock":
      return undefined;
    case "Prepare": {
      const prepared = output?.prepared;
      return `prepare: pinned launch template version ${prepared.pinnedVersion}, MaxSize ${prepared.maxSize}, MinSize ${prepared.minSize}, suspended ${list(prepared.suspendedByPhoenix) || "nothing"}`;
    }
    case "StartWave":
      return `start: replacing ${list(input.wave.instanceIds)}`;
    case "RetireFirst":
    case "Retire": {
      const result = stateName === "Retire" ? output.retired : output.retiredFirst;
      const skipped = (result.skipped ?? []).map((item: Loose) => `${item.instanceId} (${item.why})`);
      const drained = result.terminated?.length ? `; terminated ${list(result.terminated)} (drained)` : "";
      return `out of service (detached, draining): ${list(result.retiring) || "none"}${skipped.length ? `; skipped ${skipped.join(", ")}` : ""}${drained}`;
    }
    case "ReapRetired": {
      const reap = output.reap;
      if (reap.terminated.length === 0 && !reap.timedOut) return undefined;
      return `terminated ${list(reap.terminated) || "none"} once drained${reap.timedOut ? `; still draining past the deadline: ${list(reap.waiting)}` : ""}`;
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
    case "RollbackWave": {
      const kept = output.rollback.keptForTheFloor ?? [];
      return `ROLL BACK: terminated ${list(output.rollback.terminated) || "nothing"}, returned ${list(output.rollback.reregistered) || "nothing"} to service${kept.length ? `, kept ${list(kept)} for the floor` : ""}`;
    }
    case "RestoreGroup": {
      const update = output.restore.restoration.update;
      return `restored launch template version ${update.launchTemplate?.version}, min ${update.minSize}, max ${update.maxSize}; resumed ${list(output.restore.restoration.resumeProcesses) || "nothing"}`;
    }
    case "SettleCapacity":
      return `capacity settled: desired ${output.settle.desiredCapacity}, min ${output.settle.minSize}, max ${output.settle.maxSize}`;
    case "Finish":
      return `finish: ${output.summary.instancesReplaced} instances replaced; MaxSize, MinSize and processes restored`;
    default:
      return undefined;
  }
}

/** The child's own error from a failed states:startExecution.sync task, whose cause is the child's description. */
function childFailure(failure: Loose): string {
  try {
    const child = JSON.parse(failure?.Cause ?? "");
    return `${child.Error}: ${child.Cause}`;
  } catch {
    return `${failure?.Error}: ${failure?.Cause}`;
  }
}

/** Describes one finished image-rollout state for a person. */
export function describeRolloutStep(stateName: string, input: Loose, output: Loose): string | undefined {
  switch (stateName) {
    case "ResolveRollout": {
      const rollout = output.rollout;
      const waves = rollout.waves.map(
        (wave: Loose) =>
          `wave ${wave.wave}: ${wave.groups.map((group: Loose) => group.groupName).join(", ")}`,
      );
      return `rollout of ${rollout.imageId} on channel ${rollout.channel}: ${waves.join("; ") || "no groups"}${rollout.soakSeconds ? `; soaking ${rollout.soakSeconds}s first` : ""}`;
    }
    case "PinImage":
      if (!output.version)
        return `${input.groupName}: could not pin the image: ${output.failure?.Error}: ${output.failure?.Cause}`;
      return `${input.groupName}: launch template version ${output.version.version} carries ${output.version.imageId}${output.version.created ? " (new)" : ""}`;
    case "ReplaceGroup":
      if (!output.replacement)
        return `${input.groupName}: replacement FAILED: ${childFailure(output.failure)}`;
      return `${input.groupName}: replacement ${output.replacement.status.toLowerCase()}`;
    case "ReportCompleted":
      return `rollout completed: ${output.report.groups.length} groups on ${output.report.imageId}`;
    case "ReportHalted":
      return `rollout HALTED: ${output.report.why}; not started: ${list(output.report.notStarted) || "none"}`;
    default:
      return undefined;
  }
}

/** Describes one finished quarantine state for a person. */
export function describeQuarantineStep(stateName: string, input: Loose, output: Loose): string | undefined {
  const ids = list(input?.plan?.instanceIds ?? output?.plan?.instanceIds);
  switch (stateName) {
    case "Validate": {
      const plan = output?.plan;
      if (!plan) return undefined;
      const group = plan.group
        ? `in ${plan.group.groupName} (floor ${plan.group.floor}, ${plan.group.healthyOthers} others healthy${plan.group.raiseBy ? `, raise capacity by ${plan.group.raiseBy} first` : ""})`
        : "standalone";
      return `quarantine ${list(plan.instanceIds)} as case ${plan.caseId} ${group}: ${plan.reason}${output.request?.dryRun ? " [dry run: nothing will change]" : ""}`;
    }
    case "Isolate":
      return output.isolated
        ? `contained ${ids}: ${output.isolated.actions
            .map(
              (action: Loose) =>
                `${action.instanceId}: ${(action.steps ?? []).join(", ") || "already contained"}`,
            )
            .join(
              "; ",
            )}${output.isolated.repairedRules ? ` (${output.isolated.repairedRules} rules of a half-made isolation group repaired)` : ""}`
        : `CONTAINMENT FAILED: ${output.failure?.Error}: ${output.failure?.Cause}`;
    case "RevokeCredentials":
      return output.revoked
        ? output.revoked.skipped
          ? `credentials not revoked: ${output.revoked.skipped}`
          : `credentials issued before ${output.revoked.at} revoked: ${list(output.revoked.revoked.map((item: Loose) => `${item.roleName} (${item.policyName})`)) || "no instance profile"}${output.revoked.notRevoked.length ? `; NOT revoked: ${output.revoked.notRevoked.map((item: Loose) => `${item.instanceId}: ${item.reason}`).join("; ")}` : ""}`
        : `CREDENTIALS NOT REVOKED: ${output.revokeFailure?.Error}: ${output.revokeFailure?.Cause}`;
    case "Preserve":
      return output.preserved
        ? `preserved ${ids}: ${list(output.preserved.applied.map((item: Loose) => item.action).filter((action: string, index: number, all: string[]) => all.indexOf(action) === index))}${output.preserved.limitations.length ? `; LIMITATIONS: ${output.preserved.limitations.map((item: Loose) => `${item.instanceId}: ${item.action}: ${item.reason}`).join("; ")}` : ""}`
        : `PRESERVE FAILED: ${output.preserveFailure?.Error}: ${output.preserveFailure?.Cause}`;
    case "StartSnapshots":
      return output.evidence
        ? `evidence snapshots started: ${list(output.evidence.snapshots.map((snapshot: Loose) => `${snapshot.snapshotId} (${snapshot.volumeId})`)) || "no EBS volume"}; ${output.evidence.methods.map((method: Loose) => `${method.instanceId}: ${method.crashConsistent ? "one crash-consistent set" : method.note}`).join("; ")}`
        : `SNAPSHOTS FAILED: ${output.snapshotFailure?.Error}: ${output.snapshotFailure?.Cause}`;
    case "Detach":
      return output.detach
        ? `detaching ${list(output.detach.detached)} from ${input.plan.group.groupName}`
        : `DETACH FAILED: ${output.failure?.Error}: ${output.failure?.Cause}`;
    case "CheckDetached":
      return output.detached?.detached
        ? `out of ${input.plan.group.groupName}; paused processes resumed`
        : undefined;
    case "CheckSnapshots":
      return output.evidence?.completed
        ? "evidence snapshots completed"
        : output.evidence?.settled
          ? `evidence snapshots NOT completed: ${list(output.evidence.failed) || "deadline passed"}`
          : undefined;
    case "CheckReplacement":
      return output.readiness?.ready
        ? `replacement ${list(output.readiness.newInstanceIds)} InService and healthy`
        : output.readiness?.timedOut
          ? `replacement NOT ready: ${output.readiness.waiting.join("; ")}`
          : undefined;
    case "ProbeReplacement":
      return output.verdict?.passed
        ? "replacement probes passed"
        : `replacement probes FAILED: ${(output.verdict?.reasons ?? []).join("; ")}`;
    case "Report": {
      const report = output.report;
      if (!report) return undefined;
      return `reported case ${report.caseId}: ${report.manifests.map((item: Loose) => `${item.instanceId} manifest sha256 ${item.digest.slice(0, 16)}...`).join(", ")}${report.cause ? `; ${report.cause}` : ""}`;
    }
    default:
      return undefined;
  }
}

/** Prints one line per Phoenix step and per notable AWS happening, with the group's serving capacity. */
export class Timeline {
  private readonly startedAt: number;
  /** Tasks whose error was caught: their exit is a failure, not a result. */
  private readonly caught = new Set<string>();
  /** Execution name -> the group it replaces and its number of waves. */
  private readonly executions = new Map<
    string,
    { groupName?: string; waves: number; machine: "replace" | "rollout" | "quarantine" }
  >();

  /** Without a simulated world (pull mode), lines carry no serving count and time is the given clock's. */
  constructor(
    private readonly world: SimWorld | undefined,
    private readonly write: (line: string) => void,
    private readonly now: () => number = () => world?.clock.now() ?? Date.now(),
  ) {
    this.startedAt = this.now();
  }

  /** Feed it the simulated account's log entries. */
  onWorldLog = (entry: SimLogEntry): void => {
    const shown: SimLogEntry["kind"][] = [
      "instance-launched",
      "target-healthy",
      "target-unhealthy",
      "target-drained",
      "instance-terminated",
      "launch-failed",
      "security-groups-changed",
      "connection-closed",
      "instance-detached",
      "snapshot-completed",
    ];
    if (shown.includes(entry.kind)) this.line(entry.at, entry.groupName ?? "", "aws", entry.message);
  };

  /** Feed it the executions' events. */
  onExecutionEvent = (event: ExecutionEvent): void => {
    const known = this.executions.get(event.executionName);
    if (event.type === "ExecutionFailed") {
      this.line(
        event.at,
        known?.groupName ?? "",
        "phoenix",
        `execution ${event.executionName} failed: ${event.error}: ${event.cause ?? ""}`,
      );
      return;
    }
    if (event.type === "StateCaught" && event.stateName)
      this.caught.add(`${event.executionName}/${event.stateName}`);
    if (event.type !== "StateExited" || event.stateType !== "Task" || !event.stateName) return;
    const input = event.input as Loose;
    if (this.caught.delete(`${event.executionName}/${event.stateName}`)) {
      // The step's own failure is the last one its Catch added (earlier ones are what led here).
      const failure = Object.values(event.output as Record<string, Loose>)
        .filter((value) => value && typeof value === "object" && "Error" in value && "Cause" in value)
        .at(-1);
      const execution = this.executions.get(event.executionName);
      this.line(
        event.at,
        execution?.groupName ?? input?.groupName ?? "",
        "phoenix",
        `${event.stateName} FAILED: ${failure?.Error}: ${failure?.Cause}`,
      );
      return;
    }
    const output = event.output as Loose;
    if (event.stateName === "Plan") {
      this.executions.set(event.executionName, {
        groupName: output?.plan?.groupName,
        waves: output?.plan?.waves?.length ?? 0,
        machine: "replace",
      });
    } else if (event.stateName === "ResolveRollout") {
      this.executions.set(event.executionName, { waves: 0, machine: "rollout" });
    } else if (event.stateName === "Validate") {
      this.executions.set(event.executionName, {
        groupName: output?.plan?.group?.groupName,
        waves: 0,
        machine: "quarantine",
      });
    }
    const execution = this.executions.get(event.executionName);
    if (execution?.machine === "quarantine") {
      const message = describeQuarantineStep(event.stateName, input, output);
      if (message) this.line(event.at, execution.groupName ?? "", "quarantine", message);
      return;
    }
    if (execution?.machine === "rollout") {
      const message = describeRolloutStep(event.stateName, input, output);
      if (message) this.line(event.at, input?.groupName ?? "", "rollout", message);
      return;
    }
    const message = describeReplaceStep(event.stateName, input, output);
    const index = input?.wave?.index;
    const label = typeof index === "number" ? `wave ${index + 1}/${execution?.waves ?? "?"}` : "phoenix";
    if (message) this.line(event.at, execution?.groupName ?? input?.groupName ?? "", label, message);
  };

  /** Feed it a function's result (triggers: image events, sweeps). */
  onInvocation = (functionKey: string, result: Loose, error?: Error): void => {
    const at = this.now();
    if (error) {
      this.line(at, "", "trigger", `${functionKey} FAILED: ${error.name}: ${error.message}`);
      return;
    }
    if (["onImageBuilt", "onGoldenParameterChanged", "onImagePublished"].includes(functionKey)) {
      const image = result?.image;
      this.line(
        at,
        "",
        "trigger",
        result?.status === "ignored"
          ? `image event ignored: ${result.reason}`
          : `image ${image?.imageId} published on channel ${image?.channel} (${image?.origin}): rollout ${result?.status} as ${result?.executionName}`,
      );
    } else if (functionKey === "sweepFleet") {
      for (const decision of result?.plan?.decisions ?? []) {
        this.line(
          at,
          decision.groupName,
          "sweep",
          `${decision.action === "replace" ? "REPLACE" : "skip"}: ${decision.why}`,
        );
      }
    }
  };

  private line(at: number, groupName: string, label: string, message: string): void {
    const group = groupName ? this.world?.groups.get(groupName) : undefined;
    const serving = group
      ? `  [serving ${this.world?.healthyInService(groupName).length}/${group.desiredCapacity}]`
      : "";
    const where = groupName ? `${groupName} ` : "";
    this.write(`${clockTime(at - this.startedAt)}  ${`${where}${label}`.padEnd(18)} ${message}${serving}`);
  }
}
