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

/** Lines of the timeline stay within this many characters (a longer message wraps). */
export const LINE_WIDTH = 120;
/** Group names longer than this are cut in the group column. */
const GROUP_COLUMN_MAX = 24;
/** The label column: "aws", "phoenix", "wave 10/12", "quarantine". */
const LABEL_COLUMN = 10;

/** Cuts text to `width` characters, ending in "…" when it was longer. */
export const clip = (text: string, width: number) =>
  text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;

/** Splits text into lines of at most `width` characters at spaces (a longer word is cut). */
export function wrap(text: string, width: number): string[] {
  const lead = /^ */.exec(text)?.[0] ?? "";
  const lines: string[] = [];
  let current = lead;
  for (const word of text.slice(lead.length).split(" ")) {
    if (current.trim() && current.length + 1 + word.length > width) {
      lines.push(current);
      current = "";
    }
    current = current.trim() ? `${current} ${word}` : `${current}${clip(word, width - current.length)}`;
  }
  lines.push(current);
  return lines;
}

/** The innermost readable message of a failure's cause: Step Functions and Lambda nest theirs as JSON. */
function innermostCause(cause: string | undefined, depth = 0): { error?: string; message: string } {
  const text = (cause ?? "").trim();
  if (depth < 4 && text.startsWith("{")) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const error = (parsed.Error ?? parsed.errorType) as string | undefined;
      const inner = (parsed.Cause ?? parsed.errorMessage) as string | undefined;
      if (inner !== undefined) {
        const deeper = innermostCause(String(inner), depth + 1);
        return { error: deeper.error ?? error, message: deeper.message };
      }
    } catch {
      // not JSON after all: shown as it is
    }
  }
  return { message: text };
}

/**
 * A failure as one readable sentence with the error's name, e.g. "ThrottledError: DescribeInstances: Rate
 * exceeded", from an error name and a cause that may be a nested JSON dump (a child execution, a Lambda
 * error). The most specific name wins: States.TaskFailed says less than the error inside it.
 */
export function describeFailure(error: string | undefined, cause: string | undefined): string {
  const inner = innermostCause(cause);
  const name = inner.error && (error === undefined || error.startsWith("States.")) ? inner.error : error;
  const message = inner.message.replace(/\s+/g, " ").replace(/\.$/, "");
  if (!message) return name ?? "failed";
  if (!name || message.startsWith(`${name}:`) || message.startsWith(name)) return message;
  return `${name}: ${message}`;
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
  return describeFailure(failure?.Error, failure?.Cause);
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
        return `${input.groupName}: could not pin the image: ${describeFailure(output.failure?.Error, output.failure?.Cause)}`;
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
        : `CONTAINMENT FAILED: ${describeFailure(output.failure?.Error, output.failure?.Cause)}`;
    case "RevokeCredentials":
      return output.revoked
        ? output.revoked.skipped
          ? `credentials not revoked: ${output.revoked.skipped}`
          : `credentials issued before ${output.revoked.at} revoked: ${list(output.revoked.revoked.map((item: Loose) => `${item.roleName} (${item.policyName})`)) || "no instance profile"}${output.revoked.notRevoked.length ? `; NOT revoked: ${output.revoked.notRevoked.map((item: Loose) => `${item.instanceId}: ${item.reason}`).join("; ")}` : ""}`
        : `CREDENTIALS NOT REVOKED: ${describeFailure(output.revokeFailure?.Error, output.revokeFailure?.Cause)}`;
    case "Preserve":
      return output.preserved
        ? `preserved ${ids}: ${list(output.preserved.applied.map((item: Loose) => item.action).filter((action: string, index: number, all: string[]) => all.indexOf(action) === index))}${output.preserved.limitations.length ? `; LIMITATIONS: ${output.preserved.limitations.map((item: Loose) => `${item.instanceId}: ${item.action}: ${item.reason}`).join("; ")}` : ""}`
        : `PRESERVE FAILED: ${describeFailure(output.preserveFailure?.Error, output.preserveFailure?.Cause)}`;
    case "StartSnapshots":
      return output.evidence
        ? `evidence snapshots started: ${list(output.evidence.snapshots.map((snapshot: Loose) => `${snapshot.snapshotId} (${snapshot.volumeId})`)) || "no EBS volume"}; ${output.evidence.methods.map((method: Loose) => `${method.instanceId}: ${method.crashConsistent ? "one crash-consistent set" : method.note}`).join("; ")}`
        : `SNAPSHOTS FAILED: ${describeFailure(output.snapshotFailure?.Error, output.snapshotFailure?.Cause)}`;
    case "Detach":
      return output.detach
        ? `detaching ${list(output.detach.detached)} from ${input.plan.group.groupName}`
        : `DETACH FAILED: ${describeFailure(output.failure?.Error, output.failure?.Cause)}`;
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

  /** Instances that have been healthy in a target group: failing checks before that is booting. */
  private readonly everHealthy = new Set<string>();
  /** Width of the group column: the longest group name of the account (grows with names seen). */
  private groupWidth: number;

  /** Without a simulated world (pull mode), lines carry no serving count and time is the given clock's. */
  constructor(
    private readonly world: SimWorld | undefined,
    private readonly write: (line: string) => void,
    private readonly now: () => number = () => world?.clock.now() ?? Date.now(),
  ) {
    this.startedAt = this.now();
    this.groupWidth = Math.min(
      GROUP_COLUMN_MAX,
      Math.max(8, ...[...(world?.groups.keys() ?? [])].map((name) => name.length)),
    );
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
    if (!shown.includes(entry.kind)) return;
    let message = entry.message;
    if (entry.kind === "target-healthy" && entry.instanceId) this.everHealthy.add(entry.instanceId);
    // A new instance fails its first checks while it boots: it is not yet healthy, not broken.
    if (entry.kind === "target-unhealthy" && entry.instanceId && !this.everHealthy.has(entry.instanceId))
      message = message.replace(" unhealthy in ", " not yet healthy in ");
    this.line(entry.at, entry.groupName ?? "", "aws", message);
  };

  /** Feed it the executions' events. */
  onExecutionEvent = (event: ExecutionEvent): void => {
    const known = this.executions.get(event.executionName);
    if (event.type === "ExecutionFailed") {
      this.line(
        event.at,
        known?.groupName ?? "",
        "phoenix",
        `execution ${event.executionName} failed: ${describeFailure(event.error, event.cause)}`,
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
        `${event.stateName} FAILED: ${describeFailure(failure?.Error, failure?.Cause)}`,
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
    this.groupWidth = Math.min(GROUP_COLUMN_MAX, Math.max(this.groupWidth, groupName.length));
    const prefix = `${clockTime(at - this.startedAt)}  ${clip(groupName, this.groupWidth).padEnd(this.groupWidth)}  ${label.padEnd(LABEL_COLUMN)}  `;
    // Long messages wrap under the message column, so every line stays within LINE_WIDTH.
    const lines = wrap(message, Math.max(30, LINE_WIDTH - prefix.length - serving.length));
    for (const [index, text] of lines.entries())
      this.write(
        `${index === 0 ? prefix : " ".repeat(prefix.length)}${text}${index === lines.length - 1 ? serving : ""}`,
      );
  }
}
