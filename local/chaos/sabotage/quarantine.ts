// The catalogue's quarantine sabotages: deliberate bugs in containment, preservation, credentials, evidence
// and the report, each swapped in from outside functions/ (a handler or an AWS adapter wrapped for a run),
// and the invariant of the monitor's quarantine family (local/chaos/monitor/quarantine.ts) that must catch
// each. Only type imports from functions/ (see catalogue.ts).
import type { GroupSnapshot } from "../../../functions/engine/types";
import type { HandlerSwap, Swap } from "../../seams/registry";
import type { Simulation } from "../../simulation";
import type { ChaosRun } from "../generate";
import { type QuarantineFault, shapeSuspects } from "../quarantine-faults";
import { drainFor, quiet, withFaults } from "./shapes";
import type { Sabotage, Seam } from "./types";

const onHandler = (handler: string, swap: (sim: Simulation) => HandlerSwap): Seam => ({ handler, swap });
const onExport = (module: string, name: string, swap: (sim: Simulation) => Swap): Seam => ({
  module,
  export: name,
  swap,
});

const RESTORE = "functions/engine/restore.ts";
const ISOLATION = "functions/aws/isolation.ts";

/** A quiet manual replacement of the seed set, with a quarantine of its first member at 20 s. */
const quarantined = (run: ChaosRun) =>
  run.trigger === "manual" && quiet(run)
    ? withFaults(run, { kind: "quarantine", atSeconds: 20, memberIndex: 0 })
    : undefined;

/** The same, the suspect of the given shapes (local/chaos/quarantine-faults.ts). */
function shapedSuspect(run: ChaosRun, ...shapes: QuarantineFault[]): ChaosRun | undefined {
  const shaped = quarantined(run);
  if (!shaped) return undefined;
  const scenario = structuredClone(shaped.scenario);
  shapeSuspects(scenario, shapes);
  return { ...shaped, scenario, faults: [...shaped.faults, ...shapes] };
}

/** Sends an AWS command with the simulated account's client of a service, as the running handler. */
async function send(sim: Simulation, service: "ec2" | "autoScaling", command: unknown): Promise<unknown> {
  return (sim.clients[service] as { send(command: unknown): Promise<unknown> }).send(command);
}

/** Calls to take public addresses off that a sabotage holds back, per run, until a group change. */
const heldBack = new WeakMap<Simulation, (() => Promise<unknown>)[]>();
const holdBack = (sim: Simulation, call: () => Promise<unknown>) => {
  const held = heldBack.get(sim) ?? [];
  held.push(call);
  heldBack.set(sim, held);
};

type Plan = {
  instanceIds: string[];
  instances: { instanceId: string; networkInterfaces: { networkInterfaceId: string; groups: string[] }[] }[];
  group?: { groupName: string };
};

/** The quarantine sabotages. */
export const QUARANTINE_SABOTAGES: Sabotage[] = [
  {
    name: "unhealthy-resumed-in-quarantine",
    bug: "restoration resumes ReplaceUnhealthy while a quarantined suspect is still in the group",
    caughtBy: "evidence",
    seams: [
      {
        module: RESTORE,
        export: "restorationFor",
        // As before the fix: blind to the quarantined member.
        swap:
          () =>
          (real: (...args: unknown[]) => unknown, previous: unknown, current: unknown, mode: unknown) => {
            const group = current as GroupSnapshot;
            return real(
              previous,
              { ...group, instances: group.instances.map((instance) => ({ ...instance, tags: {} })) },
              mode,
            );
          },
      },
    ],
    // The suspect stays a member while it drains out: ten minutes here, so the rollout ends meanwhile.
    shape: (run) =>
      run.trigger === "manual" && quiet(run)
        ? drainFor(withFaults(run, { kind: "quarantine", atSeconds: 20, memberIndex: 1 }), 600)
        : undefined,
  },
  {
    name: "detach-before-isolation",
    bug: "the quarantine detaches its suspect before isolating it",
    caughtBy: "evidence",
    seams: [
      onHandler("isolateInstances", (sim) => async (real, event) => {
        const { DetachInstancesCommand } = await import("@aws-sdk/client-auto-scaling");
        const { plan } = event as { plan: Plan };
        if (plan.group)
          await send(
            sim,
            "autoScaling",
            new DetachInstancesCommand({
              AutoScalingGroupName: plan.group.groupName,
              InstanceIds: plan.instanceIds,
              ShouldDecrementDesiredCapacity: false,
            }),
          );
        return real();
      }),
    ],
    shape: quarantined,
  },
  {
    name: "reopened-after-containment",
    bug: "the preservation step puts the suspect's interface back in its own security groups",
    caughtBy: "contained",
    seams: [
      onHandler("preserveEvidence", (sim) => async (real, event) => {
        const result = await real();
        const { ModifyNetworkInterfaceAttributeCommand } = await import("@aws-sdk/client-ec2");
        const eni = (event as { plan: Plan }).plan.instances[0]?.networkInterfaces[0];
        if (eni)
          await send(
            sim,
            "ec2",
            new ModifyNetworkInterfaceAttributeCommand({
              NetworkInterfaceId: eni.networkInterfaceId,
              Groups: eni.groups,
            }),
          );
        return result;
      }),
    ],
    shape: quarantined,
  },
  {
    name: "public-address-after-open",
    bug: "containment takes the public addresses off only after the all-traffic group is on",
    caughtBy: "exposed",
    seams: [
      onExport(
        ISOLATION,
        "setPublicIpv4",
        (sim) =>
          (real, ...args) =>
            args[1] === false ? holdBack(sim, () => real(...args)) : real(...args),
      ),
      onExport(
        ISOLATION,
        "disassociateAddress",
        (sim) =>
          (real, ...args) =>
            holdBack(sim, () => real(...args)),
      ),
      onExport(ISOLATION, "setInterfaceGroups", (sim) => async (real, ...args) => {
        await real(...args);
        const held = heldBack.get(sim) ?? [];
        heldBack.delete(sim);
        for (const call of held) await call();
      }),
    ],
    shape: (run) => shapedSuspect(run, { kind: "eip-ipv6" }),
  },
  {
    name: "credentials-not-revoked",
    bug: "the revocation step denies nothing and says all is revoked",
    caughtBy: "credentials",
    seams: [onHandler("revokeCredentials", () => async () => ({ revoked: [], notRevoked: [] }))],
    shape: quarantined,
  },
  {
    name: "snapshots-not-awaited",
    bug: "the quarantine takes its snapshots as complete as soon as they started",
    caughtBy: "evidenceSnapshots",
    seams: [
      onHandler("snapshotEvidence", () => async (real) => ({
        ...((await real()) as object),
        // What the state machine waits on (settled), and what the report reads (completed).
        settled: true,
        completed: true,
      })),
    ],
    // Snapshots of its 30 GiB volume take 11 minutes here, longer than the rest of the quarantine.
    shape: (run) => {
      const shaped = quarantined(run);
      if (!shaped) return undefined;
      return {
        ...shaped,
        scenario: { ...shaped.scenario, timing: { ...shaped.scenario.timing, snapshotSecondsPerGiB: 20 } },
      };
    },
  },
  {
    name: "quarantine-silent",
    bug: "the quarantine's report says it failed and tells nobody",
    caughtBy: "quarantineExplained",
    seams: [
      onHandler("reportQuarantine", () => async () => ({
        failed: true,
        replacementValidated: null,
        cause: "",
        manifests: [],
      })),
    ],
    shape: quarantined,
  },
  {
    name: "containment-failure-unsaid",
    bug: "the containment step fails and the report calls the quarantine complete, telling nobody",
    caughtBy: "quarantineExplained",
    seams: [
      onHandler("isolateInstances", () => async (real) => {
        await real();
        throw Object.assign(new Error("sabotaged after containment"), { name: "Sabotage" });
      }),
      onHandler("reportQuarantine", () => async () => ({
        failed: false,
        replacementValidated: true,
        cause: "",
        manifests: [],
      })),
    ],
    shape: quarantined,
  },
];
