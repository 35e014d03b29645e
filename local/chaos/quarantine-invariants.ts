// Quarantine's promises, judged from the simulated account and the requests alone (never from what Phoenix
// planned or reported): a suspect is isolated once its first containment step has run and stays so until it
// is released; no interface of a suspect allows all traffic in while it has a public address; credentials
// issued to a suspect before containment are no longer honoured when the stack revokes them; and a
// containment that never finished was said loudly. The invariant monitor (invariants.ts) calls this.
import { config } from "../../functions/runtime/config";
import { credentialHonoured, lastCredentialBeforeRemoval } from "../sim/credentials";
import type { SimInstance } from "../sim/model";
import type { Simulation } from "../simulation";

/** The quarantine invariants, by name. */
export const QUARANTINE_INVARIANTS = {
  contained:
    "a suspect is isolated once its first containment step has run, and never re-opened before release",
  exposed: "no public address on a suspect's interface while it allows all traffic in",
  credentials: "credentials issued to a suspect before containment are denied, when revocation is configured",
  silentFailure: "a containment that did not finish ends in a Quarantine Failed event naming the suspect",
} as const;
export type QuarantineInvariantName = keyof typeof QUARANTINE_INVARIANTS;

interface Suspect {
  instanceId: string;
  executionId: string;
  profileArn?: string;
  containmentTried: boolean;
  containedAt?: number;
  released: boolean;
}

type Task = { functionKey: string; input: unknown };

/** Watches every quarantine of a run. */
export class QuarantineWatch {
  private readonly suspects = new Map<string, Suspect>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly sim: Simulation,
    private readonly violate: (
      invariant: QuarantineInvariantName,
      groupName: string | undefined,
      detail: string,
    ) => void,
  ) {
    sim.onInvocation((functionKey, result) => {
      if (functionKey !== "releaseQuarantine") return;
      const instanceId = (result as { instanceId?: string; dryRun?: boolean } | undefined)?.instanceId;
      const suspect = instanceId ? this.suspects.get(instanceId) : undefined;
      if (suspect && !(result as { dryRun?: boolean }).dryRun) suspect.released = true;
    });
  }

  /** Before a Task runs: a quarantine's request names its suspects (its first step gets the request as given). */
  beforeTask(task: Task): void {
    const input = task.input as { executionId?: string; request?: { instanceIds?: string[] } };
    if (task.functionKey === "validateQuarantine" && input.executionId) {
      for (const instanceId of input.request?.instanceIds ?? []) {
        const instance = this.sim.world.instances.get(instanceId);
        if (!instance || this.suspects.get(instanceId)?.containedAt !== undefined) continue;
        this.suspects.set(instanceId, {
          instanceId,
          executionId: input.executionId,
          profileArn: instance.iamInstanceProfile?.arn,
          containmentTried: false,
          released: false,
        });
      }
    }
    if (task.functionKey === "isolateInstances")
      for (const suspect of this.of(input.executionId)) suspect.containmentTried = true;
  }

  /** After a Task: once the containment step has returned, its suspects must be isolated from then on. */
  afterTask(task: Task, succeeded: boolean): void {
    if (task.functionKey !== "isolateInstances" || !succeeded) return;
    for (const suspect of this.of((task.input as { executionId?: string }).executionId))
      suspect.containedAt ??= this.sim.world.clock.now();
    this.check();
  }

  private of(executionId: string | undefined): Suspect[] {
    return [...this.suspects.values()].filter((suspect) => suspect.executionId === executionId);
  }

  private once(invariant: QuarantineInvariantName, instance: SimInstance, detail: string): void {
    const key = `${invariant}|${instance.instanceId}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.violate(invariant, instance.groupName, `${instance.instanceId}: ${detail}`);
  }

  /** Every moment something changed. */
  check(): void {
    const { world } = this.sim;
    for (const suspect of this.suspects.values()) {
      const instance = world.instances.get(suspect.instanceId);
      if (!instance || suspect.released || instance.state === "terminated") continue;
      for (const eni of instance.networkInterfaces) {
        const allIn = eni.groups.some((id) =>
          world.securityGroups
            .get(id)
            ?.ingress.some(
              (rule) => rule.protocol === "-1" && (rule.cidr === "0.0.0.0/0" || rule.cidr === "::/0"),
            ),
        );
        if (allIn && (eni.publicIp || eni.association))
          this.once(
            "exposed",
            instance,
            `${eni.networkInterfaceId} allows all traffic in with public address ${eni.association?.publicIp ?? eni.publicIp}`,
          );
      }
      if (suspect.containedAt === undefined) continue;
      const open = world
        .openPaths(instance)
        .filter((item) => !item.residual && !item.path.startsWith("instance profile"))
        .map((item) => item.path);
      if (suspect.profileArn && instance.iamInstanceProfile?.arn === suspect.profileArn)
        open.push(`still holds ${suspect.profileArn}`);
      if (open.length > 0)
        this.once("contained", instance, `reachable after containment: ${open.join("; ")}`);
    }
  }

  /** The end of a run: credentials, and containments that never finished. */
  async finish(): Promise<void> {
    this.check();
    const { world } = this.sim;
    const revoke = config().PHOENIX_REVOKE_CREDENTIALS;
    for (const suspect of this.suspects.values()) {
      const instance = world.instances.get(suspect.instanceId);
      if (!instance || suspect.released) continue;
      if (suspect.containedAt !== undefined && revoke && suspect.profileArn) {
        const stolen = lastCredentialBeforeRemoval(world, instance);
        const ended = this.sim.executions.get(suspect.executionId)?.status !== "RUNNING";
        if (stolen && ended && (await credentialHonoured(world, stolen, world.clock.now())).honoured)
          this.once(
            "credentials",
            instance,
            `credentials issued at ${new Date(stolen.issuedAt).toISOString()} are still honoured`,
          );
      }
      if (suspect.containmentTried && suspect.containedAt === undefined) {
        const said = world.events.some((event) => {
          if (event.detailType !== "Quarantine Failed") return false;
          return JSON.stringify(event.detail).includes(suspect.instanceId);
        });
        if (!said)
          this.once(
            "silentFailure",
            instance,
            "its containment did not finish, and no Quarantine Failed names it",
          );
      }
    }
  }
}
