// Quarantine: the suspect a request names is evidence. It is never terminated, never put back in a group or
// a target group, leaves its group only preserved and isolated, and nothing resumes the process that would
// let Auto Scaling replace (terminate) it while it is still a member. Its containment holds from the end of
// the step that started it until someone releases it (containment.ts says what contained means, from the
// account); no interface of it ever allows all traffic in while it has a public address; credentials issued
// to it before containment stop working when the stack revokes them. A completed quarantine has a completed
// snapshot of every volume; one that did not complete, or whose containment did not finish, says so.
import type { SimInstance, SimLogEntry } from "../../sim/model";
import {
  allowsAllIn,
  credentialsStillWork,
  openAfterContainment,
  publicAddressOf,
  revocationConfigured,
} from "./containment";
import type { ExecutionFacts } from "./facts";
import type { Invariant, InvariantFamily, MonitorContext } from "./types";

const QUARANTINE_TAG = "phoenix:quarantined";

/** Suspects named by quarantine requests, with the execution that took them. */
export function suspects(ctx: MonitorContext): { instance: SimInstance; quarantine: ExecutionFacts }[] {
  return ctx.facts.ofMachine("quarantine-instance").flatMap((quarantine) =>
    ((quarantine.request.instanceIds as string[] | undefined) ?? []).flatMap((id) => {
      const instance = ctx.world.instances.get(id);
      return instance ? [{ instance, quarantine }] : [];
    }),
  );
}

/** Cut off: nothing reaches it but what AWS documents no security group can end (containment.ts). */
export function isolated(ctx: MonitorContext, instance: SimInstance, profileArn?: string): boolean {
  return openAfterContainment(ctx.world, instance, profileArn).length === 0;
}

/** Someone asked for the suspect's release (not a dry run). */
const released = (ctx: MonitorContext, instanceId: string) =>
  ctx.sim.invocations.some(
    (invocation) =>
      invocation.functionKey === "releaseQuarantine" &&
      (invocation.event as { dryRun?: boolean } | undefined)?.dryRun !== true &&
      JSON.stringify(invocation.event).includes(instanceId),
  );

export const quarantine: InvariantFamily = () => {
  const wasOut = new Set<string>();
  const leftTargets = new Set<string>();
  const reported = new Set<string>();
  const once = (
    ctx: MonitorContext,
    key: string,
    groupName: string | undefined,
    detail: string,
    invariant = "evidence",
  ) => {
    if (reported.has(`${invariant} ${key}`)) return;
    reported.add(`${invariant} ${key}`);
    ctx.violate(invariant, groupName, detail);
  };
  /** Each suspect's containment: the quarantine that started it, in which state, and when that state ended. */
  const containment = new Map<
    string,
    { quarantine: string; profileArn?: string; state?: string; containedAt?: number; failed?: boolean }
  >();

  const evidence: Invariant = {
    name: "evidence",
    promise:
      "a suspect is never terminated, re-attached or re-registered, and leaves its group preserved and isolated",
    onChange(ctx) {
      for (const { instance, quarantine } of suspects(ctx)) {
        const id = instance.instanceId;
        const home = ctx.facts.homeGroup.get(id);
        if (instance.terminatedBy && (instance.terminatedBy.at ?? 0) >= quarantine.startedAt) {
          if (instance.terminatedBy.caller?.functionKey !== "disposeQuarantine")
            once(
              ctx,
              `terminated ${id}`,
              home,
              `suspect ${id} terminated by ${instance.terminatedBy.actor} (${instance.terminatedBy.why})`,
            );
        }
        if (instance.detachedBy && instance.detachedBy.at >= quarantine.startedAt) wasOut.add(id);
        const registered = [...ctx.world.targetGroups.values()].some(
          (targetGroup) => targetGroup.targets.has(id) && targetGroup.targets.get(id)?.state !== "draining",
        );
        // Once preserved (tagged) and out of every target group, never back in one.
        if (!registered && instance.tags.has(QUARANTINE_TAG)) leftTargets.add(id);
        if (registered && leftTargets.has(id) && !released(ctx, id))
          once(ctx, `registered ${id}`, home, `suspect ${id} registered in a target group again`);
        if (wasOut.has(id) && instance.groupName && instance.lifecycleState === "InService")
          once(ctx, `attached ${id}`, home, `suspect ${id} attached to ${instance.groupName} again`);
      }
    },
    onLog(ctx, entry: SimLogEntry) {
      if (entry.kind === "instance-detaching" && entry.actor === "phoenix" && entry.instanceId) {
        const suspect = suspects(ctx).find((item) => item.instance.instanceId === entry.instanceId);
        if (!suspect) return;
        const { instance } = suspect;
        const missing = [
          !instance.tags.has(QUARANTINE_TAG) && "not tagged quarantined",
          // AWS refuses termination protection on Spot instances (Using_ChangingDisableAPITermination.html).
          !instance.disableApiTermination &&
            instance.instanceLifecycle !== "spot" &&
            "termination protection off",
          !isolated(ctx, instance, containment.get(instance.instanceId)?.profileArn) && "not isolated",
        ].filter(Boolean);
        if (missing.length > 0)
          once(
            ctx,
            `detached ${instance.instanceId}`,
            entry.groupName,
            `suspect ${instance.instanceId} left its group ${missing.join(", ")}`,
          );
      }
      // While a quarantined instance is a member (in service, or detaching), nothing but its quarantine may
      // let Auto Scaling replace it: the quarantine resumes once the suspect has left.
      const resumed = (entry.data?.resumed as string[] | undefined) ?? [];
      if (entry.kind !== "processes" || !resumed.includes("ReplaceUnhealthy") || !entry.groupName) return;
      if (ctx.facts.executionOf(entry.caller)?.machine === "quarantine-instance") return;
      const group = ctx.world.groups.get(entry.groupName);
      const atRisk = (group?.instanceIds ?? []).filter((id) => {
        const member = ctx.world.instances.get(id);
        return member?.tags.has(QUARANTINE_TAG) && !member.lifecycleState?.startsWith("Terminat");
      });
      if (atRisk.length > 0)
        once(
          ctx,
          `resumed ${entry.at} ${entry.groupName}`,
          entry.groupName,
          `${ctx.facts.executionOf(entry.caller)?.name ?? entry.caller?.functionKey ?? entry.actor} resumed ReplaceUnhealthy while quarantined ${atRisk.join(", ")} still in the group`,
        );
    },
  };

  const contained: Invariant = {
    name: "contained",
    promise:
      "a suspect is isolated once the step that started its containment has ended, and never re-opened before release",
    onExecutionStarted(ctx, execution) {
      if (execution.machine !== "quarantine-instance") return;
      for (const id of (execution.request.instanceIds as string[] | undefined) ?? []) {
        const instance = ctx.world.instances.get(id);
        if (instance && !containment.has(id))
          containment.set(id, { quarantine: execution.arn, profileArn: instance.iamInstanceProfile?.arn });
      }
    },
    onLog(_ctx, entry) {
      // The first change the quarantine makes to its suspect's network starts containment, in some state.
      const watched = entry.instanceId ? containment.get(entry.instanceId) : undefined;
      if (!watched || watched.state || entry.caller?.executionArn !== watched.quarantine) return;
      if (["security-groups-changed", "public-address-changed", "network-acl-changed"].includes(entry.kind))
        watched.state = entry.caller.stateName;
    },
    onExecutionEvent(ctx, event) {
      // The runner records a Task whose error a Catch took as caught, then exited: that step did not finish.
      if (event.type !== "StateExited" && event.type !== "StateCaught") return;
      for (const watched of containment.values()) {
        if (watched.containedAt !== undefined || watched.failed || event.stateName !== watched.state)
          continue;
        if (ctx.facts.executions.get(watched.quarantine)?.name !== event.executionName) continue;
        if (event.type === "StateCaught") watched.failed = true;
        else watched.containedAt = ctx.world.clock.now();
      }
      this.onChange?.(ctx);
    },
    onChange(ctx) {
      for (const [id, watched] of containment) {
        const instance = ctx.world.instances.get(id);
        if (watched.containedAt === undefined || !instance || instance.state === "terminated") continue;
        if (released(ctx, id)) continue;
        const open = openAfterContainment(ctx.world, instance, watched.profileArn);
        if (open.length > 0)
          once(
            ctx,
            id,
            ctx.facts.homeGroup.get(id),
            `${id} reachable after containment: ${open.join("; ")}`,
            "contained",
          );
      }
    },
  };

  const exposed: Invariant = {
    name: "exposed",
    promise: "no interface of a suspect allows all traffic in while it has a public address",
    onChange(ctx) {
      for (const { instance } of suspects(ctx)) {
        if (instance.state === "terminated" || released(ctx, instance.instanceId)) continue;
        for (const eni of instance.networkInterfaces)
          if (publicAddressOf(eni) && allowsAllIn(ctx.world, eni))
            once(
              ctx,
              instance.instanceId,
              ctx.facts.homeGroup.get(instance.instanceId),
              `${eni.networkInterfaceId} of ${instance.instanceId} allows all traffic in with public address ${publicAddressOf(eni)}`,
              "exposed",
            );
      }
    },
  };

  const credentials: Invariant = {
    name: "credentials",
    promise:
      "credentials issued to a suspect before containment no longer work when its quarantine ends, if the stack revokes them",
    async finish(ctx) {
      if (!revocationConfigured()) return;
      for (const [id, watched] of containment) {
        const instance = ctx.world.instances.get(id);
        const ended = ctx.facts.executions.get(watched.quarantine)?.endedAt;
        if (!instance || watched.containedAt === undefined || !watched.profileArn || ended === undefined)
          continue;
        if (released(ctx, id)) continue;
        const stolen = await credentialsStillWork(ctx.world, instance, ended);
        if (stolen)
          once(
            ctx,
            id,
            ctx.facts.homeGroup.get(id),
            `${id}: ${stolen} still work when its quarantine ended`,
            "credentials",
          );
      }
    },
  };

  const snapshots: Invariant = {
    name: "evidenceSnapshots",
    promise: "a completed quarantine has a completed snapshot of every volume of every suspect",
    finish(ctx) {
      for (const { instance, quarantine } of suspects(ctx)) {
        if (quarantine.status !== "SUCCEEDED") continue;
        const missing = instance.volumes.filter(
          (volume) =>
            ![...ctx.world.snapshots.values()].some(
              (snapshot) =>
                snapshot.volumeId === volume.volumeId &&
                snapshot.startTime >= quarantine.startedAt &&
                snapshot.completesAt <= (quarantine.endedAt ?? 0),
            ),
        );
        if (missing.length > 0)
          ctx.violate(
            "evidenceSnapshots",
            ctx.facts.homeGroup.get(instance.instanceId),
            `${quarantine.name} completed without a completed snapshot of ${missing.map((volume) => volume.volumeId).join(", ")} of ${instance.instanceId}`,
            quarantine.endedAt,
          );
      }
    },
  };

  const explained: Invariant = {
    name: "quarantineExplained",
    promise:
      "a quarantine that did not complete, or whose containment did not finish, says why in a Quarantine Failed naming the suspect",
    finish(ctx) {
      // Whatever the execution's status: a containment started and never finished is a failure to say.
      for (const [id, watched] of containment) {
        if (!watched.state || watched.containedAt !== undefined) continue;
        const said = ctx.world.events.some(
          (event) =>
            event.caller?.executionArn === watched.quarantine &&
            event.detailType === "Quarantine Failed" &&
            JSON.stringify(event.detail).includes(id),
        );
        if (!said)
          ctx.violate(
            "quarantineExplained",
            ctx.facts.homeGroup.get(id),
            `the containment of ${id} did not finish, and no Quarantine Failed of its quarantine names it`,
          );
      }
      for (const execution of ctx.facts.ofMachine("quarantine-instance")) {
        if (execution.status === "SUCCEEDED" || execution.status === "RUNNING") continue;
        const said = ctx.world.events.some(
          (event) =>
            event.caller?.executionArn === execution.arn &&
            (event.detailType === "Quarantine Failed" ||
              event.detailType === "Quarantine Replacement Failed"),
        );
        const changedNothing = !ctx.sim.journal.some(
          (call) => call.mutating && !call.error && call.caller?.executionArn === execution.arn,
        );
        if (said || (changedNothing && execution.error && !execution.error.startsWith("States."))) continue;
        ctx.violate(
          "quarantineExplained",
          undefined,
          `${execution.name} ended ${execution.status} ${execution.error ?? ""} having changed things, and put no Quarantine Failed`,
          execution.endedAt,
        );
      }
    },
  };

  return [evidence, contained, exposed, credentials, snapshots, explained];
};

/** How quarantines ended, for the campaign's table: outcome and, for the others, why. */
export function quarantineOutcome(execution: ExecutionFacts, cause?: string): string {
  if (execution.status === "SUCCEEDED") return "completed";
  const firstLine = (cause ?? "").split("\n")[0]?.slice(0, 90) ?? "";
  return `${execution.error ?? execution.status}${firstLine ? `: ${firstLine}` : ""}`;
}
