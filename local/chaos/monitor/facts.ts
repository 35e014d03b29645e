// What the monitor knows, all of it from the simulated world: the executions Step Functions ran with their
// inputs (the requests) and who started them, the account's log of who changed what (the simulator records
// the calling execution of every Phoenix call), the groups as they were when each execution started, and
// the lock items in the table. Never a plan, a Task result or any other state of Phoenix's.
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { onTableWrite } from "../../sim/dynamodb";
import type { SimActor, SimCaller, SimLogEntry } from "../../sim/model";
import type { SimWorld } from "../../sim/world";
import type { SimExecution, Simulation } from "../../simulation";
import { stateMachineByArn } from "../../stack";
import { floorOf, type PolicyTerms, policyTerms, surgeOf } from "./rules";

/** A group as it was at one moment. */
export interface GroupState {
  desired: number;
  minSize: number;
  maxSize: number;
  /** The launch template version as set on the group ("3", "$Latest"...). */
  version: string;
  /** The image that version resolves to. */
  imageId?: string;
  suspended: string[];
  tags: Record<string, string>;
  members: string[];
}

/** One execution, as Step Functions and the account saw it. */
export interface ExecutionFacts {
  arn: string;
  name: string;
  /** statemachines/<machine>.asl.json */
  machine: string;
  /** The execution's input (the request). */
  request: Record<string, unknown>;
  startedAt: number;
  startedBy?: SimCaller;
  endedAt?: number;
  status: SimExecution["status"];
  error?: string;
  output?: Record<string, unknown>;
  /** A replacement's group (from its request), as it was when the execution started. */
  groupName?: string;
  atStart?: GroupState;
  /** When the execution first changed its group (sizes, version, processes, capacity, members). */
  firstChangeAt?: number;
}

/** A change of desired capacity and who made it. */
export interface DesiredChange {
  at: number;
  from: number;
  to: number;
  by: SimActor;
}

/** Log kinds that change a group: an execution doing one of these is working on the group. */
const CHANGE_KINDS = new Set<SimLogEntry["kind"]>([
  "group-updated",
  "desired-changed",
  "processes",
  "instance-detaching",
  "instance-terminating",
  "target-draining",
]);

/** Lock items in the table (the table layout README documents: one item per group, keyed lock#group#). */
export const LOCK_KEY_PREFIX = "lock#group#";

/** The world's facts for one run; kept up to date by the monitor before any invariant looks. */
export class WorldFacts {
  readonly executions = new Map<string, ExecutionFacts>();
  /** Every group as it was when the monitor started (before anything ran). */
  readonly initial = new Map<string, GroupState>();
  readonly desiredChanges = new Map<string, DesiredChange[]>();
  /** Instances and the group each was launched into (or was a member of at the start). */
  readonly homeGroup = new Map<string, string>();
  /** Instances seen serving (InService, Healthy, healthy in every target group) at least once. */
  readonly served = new Set<string>();
  /** Lock items as the table holds them now, by group. */
  readonly locks = new Map<string, { owner: string; expiresAt: number }>();
  private readonly table: DynamoDBClient;

  constructor(
    sim: Simulation,
    private readonly world: SimWorld = sim.world,
  ) {
    for (const group of world.groups.values()) {
      this.initial.set(group.groupName, this.groupState(group.groupName));
      for (const id of group.instanceIds) this.homeGroup.set(id, group.groupName);
    }
    // The monitor's own client: its reads are not Phoenix's calls (no latency, no journal, no throttling).
    this.table = new DynamoDBClient({
      region: world.region,
      endpoint: sim.tableEndpoint,
      credentials: { accessKeyId: "MONITOR", secretAccessKey: "MONITOR" },
      maxAttempts: 1,
    });
    onTableWrite(world, async (call) => {
      const input = call.input as { TableName?: string; Key?: ItemKey; Item?: ItemKey };
      const key = input.Key?.id?.S ?? input.Item?.id?.S;
      if (!key?.startsWith(LOCK_KEY_PREFIX) || !input.TableName) return;
      const { Item } = await this.table.send(
        new GetItemCommand({ TableName: input.TableName, Key: { id: { S: key } }, ConsistentRead: true }),
      );
      const groupName = key.slice(LOCK_KEY_PREFIX.length);
      if (Item?.owner?.S)
        this.locks.set(groupName, { owner: Item.owner.S, expiresAt: Number(Item.expiresAt?.N) });
      else this.locks.delete(groupName);
    });
  }

  /** Stops the monitor's table client. */
  close(): void {
    this.table.destroy();
  }

  /** A group as it is now. */
  groupState(groupName: string): GroupState {
    const group = this.world.requireGroup(groupName);
    return {
      desired: group.desiredCapacity,
      minSize: group.minSize,
      maxSize: group.maxSize,
      version: group.launchTemplate.version,
      imageId: this.world.resolveVersion(group.launchTemplate.launchTemplateId, group.launchTemplate.version)
        ?.version.imageId,
      suspended: [...group.suspendedProcesses].sort(),
      tags: Object.fromEntries(group.tags),
      members: [...group.instanceIds],
    };
  }

  started(execution: SimExecution): ExecutionFacts {
    const machine = stateMachineByArn(execution.stateMachineArn)?.file ?? execution.stateMachineArn;
    let request: Record<string, unknown> = {};
    try {
      request = JSON.parse(execution.input) as Record<string, unknown>;
    } catch {
      // an input that is not JSON is refused by Phoenix; the monitor has no request to judge by
    }
    const groupName = typeof request.groupName === "string" ? request.groupName : undefined;
    const facts: ExecutionFacts = {
      arn: execution.executionArn,
      name: execution.name,
      machine,
      request,
      startedAt: execution.startDate,
      startedBy: execution.startedBy,
      status: "RUNNING",
      groupName,
      atStart: groupName && this.world.groups.has(groupName) ? this.groupState(groupName) : undefined,
    };
    this.executions.set(facts.arn, facts);
    return facts;
  }

  ended(execution: SimExecution): ExecutionFacts | undefined {
    const facts = this.executions.get(execution.executionArn);
    if (!facts) return undefined;
    facts.endedAt = execution.stopDate;
    facts.status = execution.status;
    facts.error = execution.error;
    try {
      facts.output = execution.output ? (JSON.parse(execution.output) as Record<string, unknown>) : undefined;
    } catch {
      facts.output = undefined;
    }
    return facts;
  }

  /** Learns from one log entry: launches, desired capacity changes, who works on which group. */
  logged(entry: SimLogEntry): void {
    if (entry.kind === "instance-launched" && entry.instanceId && entry.groupName)
      this.homeGroup.set(entry.instanceId, entry.groupName);
    if (entry.kind === "desired-changed" && entry.groupName && entry.data) {
      const changes = this.desiredChanges.get(entry.groupName) ?? [];
      changes.push({
        at: entry.at,
        from: Number(entry.data.from),
        to: Number(entry.data.to),
        by: { actor: entry.actor ?? "aws", caller: entry.caller },
      });
      this.desiredChanges.set(entry.groupName, changes);
    }
    const execution = entry.caller?.executionArn ? this.executions.get(entry.caller.executionArn) : undefined;
    if (execution && CHANGE_KINDS.has(entry.kind) && entry.groupName === execution.groupName)
      execution.firstChangeAt ??= entry.at;
  }

  /** Records who serves now (called at every change). */
  sawServing(ids: Iterable<string>): void {
    for (const id of ids) this.served.add(id);
  }

  /** Executions of one state machine. */
  ofMachine(machine: string): ExecutionFacts[] {
    return [...this.executions.values()].filter((execution) => execution.machine === machine);
  }

  /** Replacements (replace-group executions) of a group that changed it and had not ended at `at`. */
  workingOn(groupName: string, at = this.world.clock.now()): ExecutionFacts[] {
    return this.ofMachine("replace-group").filter(
      (execution) =>
        execution.groupName === groupName &&
        execution.firstChangeAt !== undefined &&
        execution.firstChangeAt <= at &&
        (execution.endedAt === undefined || execution.endedAt > at),
    );
  }

  /** The policy a replacement promised to keep: its request's, else its group's tag at start. */
  termsOf(execution: ExecutionFacts): PolicyTerms {
    return policyTerms(execution.request.policy, execution.atStart?.tags ?? {});
  }

  /**
   * Desired capacity as the replacement must honour it at `at`: the group's when it started, moved by every
   * change that anyone but this execution made since (scaling policies, a quarantine's raise, people).
   */
  desiredFor(execution: ExecutionFacts, at = this.world.clock.now()): number {
    const others = (this.desiredChanges.get(execution.groupName ?? "") ?? []).filter(
      (change) =>
        change.at > execution.startedAt &&
        change.at <= at &&
        change.by.caller?.executionArn !== execution.arn,
    );
    return (
      (execution.atStart?.desired ?? 0) + others.reduce((sum, change) => sum + change.to - change.from, 0)
    );
  }

  /** The floor a replacement must keep at `at`, computed here from the world and its request. */
  floorFor(execution: ExecutionFacts, at = this.world.clock.now()): number {
    return floorOf(this.desiredFor(execution, at), this.termsOf(execution));
  }

  /**
   * The surge a replacement may add at `at`: its policy's share of desired capacity when it started, or of
   * what others scaled it to since if that is more (a scale-in does not take back what already launched).
   */
  surgeFor(execution: ExecutionFacts, at = this.world.clock.now()): number {
    const desired = Math.max(execution.atStart?.desired ?? 0, this.desiredFor(execution, at));
    return surgeOf(desired, this.termsOf(execution));
  }

  /** The version a replacement rolls onto: its request's, else the group's version when it started. */
  targetVersionOf(execution: ExecutionFacts): string | undefined {
    if (typeof execution.request.targetVersion === "string") return execution.request.targetVersion;
    const version = execution.atStart?.version;
    const group = execution.groupName ? this.world.groups.get(execution.groupName) : undefined;
    if (!version || !group) return undefined;
    const resolved = this.world.resolveVersion(group.launchTemplate.launchTemplateId, version);
    return resolved ? String(resolved.version.versionNumber) : version;
  }

  /** The image of a launch template version of a group. */
  imageOfVersion(groupName: string, version: string | undefined): string | undefined {
    const group = this.world.groups.get(groupName);
    if (!group || version === undefined) return undefined;
    return this.world.resolveVersion(group.launchTemplate.launchTemplateId, version)?.version.imageId;
  }

  /**
   * Old instances a replacement may retire, by its request: members of its group before it changed
   * anything, the named ones if it names any, else (new-image, drift) those not on the target image, else all.
   */
  retirable(execution: ExecutionFacts): Set<string> {
    const groupName = execution.groupName;
    if (!groupName) return new Set();
    const before = execution.firstChangeAt ?? Number.POSITIVE_INFINITY;
    const members = [...this.world.instances.values()].filter(
      (instance) =>
        this.homeGroup.get(instance.instanceId) === groupName &&
        (execution.atStart?.members.includes(instance.instanceId) || instance.launchTime < before),
    );
    const named = Array.isArray(execution.request.instanceIds)
      ? new Set(execution.request.instanceIds as string[])
      : undefined;
    const reason = execution.request.reason;
    const targetImage = this.imageOfVersion(groupName, this.targetVersionOf(execution));
    return new Set(
      members
        .filter((instance) => {
          if (named) return named.has(instance.instanceId);
          if (reason === "new-image" || reason === "drift") return instance.imageId !== targetImage;
          return true;
        })
        .map((instance) => instance.instanceId),
    );
  }

  /**
   * Old instances a replacement was to replace that something else took out by `at` (quarantined, or
   * terminated by AWS or a fault): each leaves a stand-in the replacement keeps (README: a completed
   * replacement may leave one instance more for each).
   */
  lostToOthers(execution: ExecutionFacts, at = this.world.clock.now()): number {
    return [...this.retirable(execution)].filter((id) => {
      const instance = this.world.instances.get(id);
      if (!instance) return false;
      const quarantined = instance.tags.has("phoenix:quarantined");
      const byOthers = instance.terminatedBy !== undefined && instance.terminatedBy.actor !== "phoenix";
      return quarantined || (byOthers && (instance.terminatedBy?.at ?? 0) <= at);
    }).length;
  }

  /** The execution a caller worked for, if it was a Task of one. */
  executionOf(caller: SimCaller | undefined): ExecutionFacts | undefined {
    return caller?.executionArn ? this.executions.get(caller.executionArn) : undefined;
  }
}

type ItemKey = { id?: { S?: string } };
