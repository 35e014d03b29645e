// Quarantine: the suspect a request names is evidence. It is never terminated, never put back in a group or
// a target group, never loses its isolation before someone releases it, leaves its group only preserved and
// isolated, and nothing resumes the process that would let Auto Scaling replace (terminate) it while it is
// still a member. A completed quarantine has a completed snapshot of every volume; one that did not
// complete says why. Quarantine-specific checks beyond these can live in their own file (see index.ts).
import type { SimInstance, SimLogEntry } from "../../sim/model";
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

/** Cut off: every network interface only in groups without a rule, no Elastic IP. */
export function isolated(ctx: MonitorContext, instance: SimInstance): boolean {
  return instance.networkInterfaces.every(
    (eni) =>
      !eni.association &&
      eni.groups.length > 0 &&
      eni.groups.every((id) => {
        const group = ctx.world.securityGroups.get(id);
        return !!group && group.ingress.length === 0 && group.egress.length === 0;
      }),
  );
}

const released = (ctx: MonitorContext, instanceId: string) =>
  ctx.sim.invocations.some(
    (invocation) =>
      invocation.functionKey === "releaseQuarantine" && JSON.stringify(invocation.event).includes(instanceId),
  );

export const quarantine: InvariantFamily = () => {
  const wasIsolated = new Set<string>();
  const wasOut = new Set<string>();
  const leftTargets = new Set<string>();
  const reported = new Set<string>();
  const once = (ctx: MonitorContext, key: string, groupName: string | undefined, detail: string) => {
    if (reported.has(key)) return;
    reported.add(key);
    ctx.violate("evidence", groupName, detail);
  };

  const evidence: Invariant = {
    name: "evidence",
    promise:
      "a suspect is never terminated, re-attached or re-registered, keeps its isolation, and leaves its group preserved and isolated",
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
        if (isolated(ctx, instance)) wasIsolated.add(id);
        else if (wasIsolated.has(id) && !released(ctx, id))
          once(ctx, `isolation ${id}`, home, `suspect ${id} lost its isolation before anyone released it`);
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
          !instance.disableApiTermination && "termination protection off",
          !isolated(ctx, instance) && "not isolated",
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
    promise: "a quarantine that did not complete says why (or was refused before it changed anything)",
    finish(ctx) {
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

  return [evidence, snapshots, explained];
};

/** How quarantines ended, for the campaign's table: outcome and, for the others, why. */
export function quarantineOutcome(execution: ExecutionFacts, cause?: string): string {
  if (execution.status === "SUCCEEDED") return "completed";
  const firstLine = (cause ?? "").split("\n")[0]?.slice(0, 90) ?? "";
  return `${execution.error ?? execution.status}${firstLine ? `: ${firstLine}` : ""}`;
}
