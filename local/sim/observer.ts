import type { SimWorld } from "./world";

/** A moment at which a group's serving capacity changed. */
export interface CapacitySample {
  at: number;
  healthyInService: number;
  /** Members launching or in service (what counts against MaxSize). */
  active: number;
  desired: number;
}

/** One instance termination, with what preceded it. */
export interface TerminationRecord {
  instanceId: string;
  groupName?: string;
  at: number;
  deregisteredAt?: number;
  drainedAt?: number;
}

/**
 * Watches the simulated account at every moment something changes: the serving capacity of each group
 * (for the floor and surge invariants) and every termination with its draining history.
 */
export class Observer {
  readonly samples = new Map<string, CapacitySample[]>();
  readonly terminations: TerminationRecord[] = [];

  constructor(private readonly world: SimWorld) {
    world.onChange(() => this.sample());
    world.onLog((entry) => {
      if (entry.kind !== "instance-terminating" && entry.kind !== "instance-terminated") return;
      const instance = entry.instanceId ? world.instances.get(entry.instanceId) : undefined;
      if (!instance || entry.kind !== "instance-terminated") return;
      this.terminations.push({
        instanceId: instance.instanceId,
        groupName: instance.groupName,
        at: entry.at,
        deregisteredAt: instance.deregisteredAt,
        drainedAt: instance.drainedAt,
      });
    });
    this.sample();
  }

  private sample(): void {
    for (const group of this.world.groups.values()) {
      const series = this.samples.get(group.groupName) ?? [];
      const sample: CapacitySample = {
        at: this.world.clock.now(),
        healthyInService: this.world.servingCount(group.groupName),
        active: this.world.census.active(group.groupName),
        desired: group.desiredCapacity,
      };
      const last = series[series.length - 1];
      if (
        !last ||
        last.healthyInService !== sample.healthyInService ||
        last.active !== sample.active ||
        last.desired !== sample.desired
      ) {
        series.push(sample);
      }
      this.samples.set(group.groupName, series);
    }
  }

  /** Lowest healthy in-service capacity a group had at any simulated moment. */
  lowestHealthy(groupName: string): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const sample of this.samples.get(groupName) ?? [])
      lowest = Math.min(lowest, sample.healthyInService);
    return lowest;
  }

  /** Most members a group had launching or in service at any moment. */
  peakActive(groupName: string): number {
    let peak = Number.NEGATIVE_INFINITY;
    for (const sample of this.samples.get(groupName) ?? []) peak = Math.max(peak, sample.active);
    return peak;
  }
}
