// How many members of each group are active (launching or in service, what counts against MaxSize) and how
// many serve (InService, Healthy, healthy in every target group of the group), kept up to date as instances
// change instead of counted by scanning the group at every change: the observer samples these at every
// change of the account, which made a rotation cost instances x events before. Whatever changes a member's
// lifecycle, health or target state, or a group's membership, tells the census (`touch`, `join`, `leave`);
// `check` recounts from scratch, and the tests run whole scenarios checking it at every change.
import type { SimGroup, SimInstance, SimTargetGroup } from "./model";

const ACTIVE_STATES = new Set(["Pending", "Pending:Wait", "Pending:Proceed", "InService"]);

/** What the census reads of the account. */
export interface CensusSource {
  readonly instances: ReadonlyMap<string, SimInstance>;
  readonly groups: ReadonlyMap<string, SimGroup>;
  readonly targetGroups: ReadonlyMap<string, SimTargetGroup>;
}

interface GroupCount {
  members: Set<string>;
  active: number;
  serving: number;
  activeByZone: Map<string, number>;
}

interface Counted {
  groupName: string;
  active: boolean;
  serving: boolean;
  zone: string;
}

/** Whether a member launches or serves, as Auto Scaling counts it. */
export function isActive(instance: SimInstance | undefined): boolean {
  return !!instance && ACTIVE_STATES.has(instance.lifecycleState ?? "");
}

/** Per-group counts of active and serving members, maintained incrementally. */
export class GroupCensus {
  private readonly counts = new Map<string, GroupCount>();
  private readonly counted = new Map<string, Counted>();

  constructor(private readonly source: CensusSource) {}

  /** Members launching or in service. */
  active(groupName: string): number {
    return this.count(groupName).active;
  }

  /** Members that serve: InService, Healthy, healthy in every target group. */
  serving(groupName: string): number {
    return this.count(groupName).serving;
  }

  /** Active members per Availability Zone. */
  activeByZone(groupName: string): ReadonlyMap<string, number> {
    return this.count(groupName).activeByZone;
  }

  /** An instance became a member of a group. */
  join(groupName: string, instanceId: string): void {
    const count = this.counts.get(groupName);
    if (!count) return;
    count.members.add(instanceId);
    this.touch(instanceId);
  }

  /** An instance left a group's member list. */
  leave(groupName: string, instanceId: string): void {
    const count = this.counts.get(groupName);
    if (!count) return;
    count.members.delete(instanceId);
    this.uncount(instanceId);
  }

  /** Something about an instance changed: count it again. */
  touch(instanceId: string): void {
    const groupName =
      this.counted.get(instanceId)?.groupName ?? this.source.instances.get(instanceId)?.groupName;
    const count = groupName ? this.counts.get(groupName) : undefined;
    if (!groupName || !count?.members.has(instanceId)) {
      this.uncount(instanceId);
      return;
    }
    this.uncount(instanceId);
    const instance = this.source.instances.get(instanceId);
    const entry: Counted = {
      groupName,
      active: isActive(instance),
      serving: this.serves(instance, groupName),
      zone: instance?.availabilityZone ?? "",
    };
    this.add(count, entry, 1);
    this.counted.set(instanceId, entry);
  }

  /** Recounts every group from scratch; throws if a kept count drifted (a change nobody reported). */
  check(): void {
    for (const [groupName, kept] of this.counts) {
      const fresh = this.recount(groupName);
      const zones = (map: Map<string, number>) =>
        JSON.stringify([...map].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)));
      if (
        fresh.active !== kept.active ||
        fresh.serving !== kept.serving ||
        zones(fresh.activeByZone) !== zones(kept.activeByZone) ||
        fresh.members.size !== kept.members.size
      ) {
        throw new Error(
          `census of ${groupName} drifted: kept ${kept.active} active, ${kept.serving} serving, ${kept.members.size} members; counted ${fresh.active}, ${fresh.serving}, ${fresh.members.size}`,
        );
      }
    }
  }

  private count(groupName: string): GroupCount {
    let count = this.counts.get(groupName);
    if (!count) {
      count = this.recount(groupName, this.counted);
      this.counts.set(groupName, count);
    }
    return count;
  }

  private recount(groupName: string, into?: Map<string, Counted>): GroupCount {
    const count: GroupCount = { members: new Set(), active: 0, serving: 0, activeByZone: new Map() };
    for (const instanceId of this.source.groups.get(groupName)?.instanceIds ?? []) {
      count.members.add(instanceId);
      const instance = this.source.instances.get(instanceId);
      const entry: Counted = {
        groupName,
        active: isActive(instance),
        serving: this.serves(instance, groupName),
        zone: instance?.availabilityZone ?? "",
      };
      this.add(count, entry, 1);
      into?.set(instanceId, entry);
    }
    return count;
  }

  private serves(instance: SimInstance | undefined, groupName: string): boolean {
    if (instance?.lifecycleState !== "InService" || instance.healthStatus !== "Healthy") return false;
    const group = this.source.groups.get(groupName);
    return (group?.targetGroupArns ?? []).every(
      (arn) => this.source.targetGroups.get(arn)?.targets.get(instance.instanceId)?.state === "healthy",
    );
  }

  private uncount(instanceId: string): void {
    const entry = this.counted.get(instanceId);
    if (!entry) return;
    this.counted.delete(instanceId);
    const count = this.counts.get(entry.groupName);
    if (count) this.add(count, entry, -1);
  }

  private add(count: GroupCount, entry: Counted, sign: 1 | -1): void {
    if (entry.active) {
      count.active += sign;
      count.activeByZone.set(entry.zone, (count.activeByZone.get(entry.zone) ?? 0) + sign);
    }
    if (entry.serving) count.serving += sign;
  }
}
