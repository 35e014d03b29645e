// The shapes of suspect a chaos run's quarantine meets, and the AWS behaviour around it: Spot instances
// (AWS refuses termination protection), instance-store roots (they cannot stop), several volumes encrypted
// with customer-managed KMS keys (one perhaps pending deletion), Elastic IPs, public and IPv6 addresses with
// sessions over them, and new security groups that EC2 makes visible only after a while. Each edits the drawn
// account; a run with any of them also gets a responder's quarantine, so they meet one.
import type { Scenario } from "../scenario";
import type { SimInstance } from "../sim/model";
import type { Random } from "../sim/random";

/** The quarantine fault kinds, for the generator's list. */
export const QUARANTINE_FAULT_KINDS = [
  "spot-suspect",
  "instance-store-suspect",
  "multi-volume-cmk",
  "eip-ipv6",
  "sg-eventual-consistency",
] as const;
export type QuarantineFaultKind = (typeof QUARANTINE_FAULT_KINDS)[number];

/** One quarantine fault, with what it needs. */
export type QuarantineFault =
  | { kind: "spot-suspect" }
  | { kind: "instance-store-suspect" }
  | { kind: "multi-volume-cmk"; secondKey: "Enabled" | "Disabled" | "PendingDeletion" }
  | { kind: "eip-ipv6" }
  | { kind: "sg-eventual-consistency"; seconds: [number, number] };

const pick = <T>(random: Random, items: readonly T[]): T => items[random.int(items.length)] as T;

/** Draws one quarantine fault of a kind. */
export function drawQuarantineFault(kind: QuarantineFaultKind, random: Random): QuarantineFault {
  switch (kind) {
    case "multi-volume-cmk":
      return { kind, secondKey: pick(random, ["Enabled", "Disabled", "PendingDeletion"] as const) };
    case "sg-eventual-consistency": {
      const low = 1 + random.int(5);
      return { kind, seconds: [low, low + random.int(10)] };
    }
    default:
      return { kind };
  }
}

/** Edits the drawn account so the instances of its first group (where the quarantine strikes) have the shape. */
export function shapeSuspects(scenario: Scenario, faults: { kind: string }[]): void {
  const group = scenario.groups[0];
  const cohort = group?.instances[0];
  if (!group || !cohort) return;
  for (const fault of faults as QuarantineFault[]) {
    switch (fault.kind) {
      case "spot-suspect":
        cohort.lifecycle = "spot";
        break;
      case "instance-store-suspect":
        cohort.rootDeviceType = "instance-store";
        cohort.dataVolumes = [...(cohort.dataVolumes ?? []), { deviceName: "/dev/sdh", sizeGiB: 20 }];
        break;
      case "multi-volume-cmk":
        scenario.kmsKeys = [
          { alias: "alias/chaos-data", state: "Enabled" },
          { alias: "alias/chaos-logs", state: fault.secondKey },
        ];
        if (cohort.rootDeviceType !== "instance-store") cohort.rootKmsKey = "alias/chaos-data";
        cohort.dataVolumes = [
          ...(cohort.dataVolumes ?? []),
          { deviceName: "/dev/sdf", sizeGiB: 50, kmsKey: "alias/chaos-data" },
          { deviceName: "/dev/sdg", sizeGiB: 10, kmsKey: "alias/chaos-logs" },
        ];
        break;
      case "eip-ipv6":
        cohort.ipv6 = 1;
        cohort.publicIp = true;
        scenario.elasticIps = [0, 1]
          .filter((index) => index < cohort.count)
          // Tagged as Phoenix may touch them (its roles may move only managed Elastic IPs).
          .map((index) => ({
            group: group.name,
            instance: index,
            publicIp: `198.51.100.${30 + index}`,
            tags: { "phoenix:managed": "true" },
          }));
        scenario.connections = [0, 1]
          .filter((index) => index < cohort.count)
          .flatMap((index) => [
            {
              group: group.name,
              instance: index,
              peer: "[2001:db8:66::4]:4444",
              port: 4444,
              direction: "outbound" as const,
              protocol: "tcp" as const,
            },
            {
              group: group.name,
              instance: index,
              peer: "203.0.113.66:4444",
              port: 4444,
              direction: "outbound" as const,
              protocol: "tcp" as const,
            },
          ]);
        break;
      case "sg-eventual-consistency":
        scenario.timing = { ...scenario.timing, securityGroupPropagationSeconds: fault.seconds };
        break;
    }
  }
}

/** The quarantine faults a suspect actually embodies (a suspect launched during the run has none of the shapes). */
export function shapesOf(instance: SimInstance, faults: { kind: string }[]): QuarantineFaultKind[] {
  const kinds = new Set(faults.map((fault) => fault.kind));
  return QUARANTINE_FAULT_KINDS.filter((kind) => {
    if (!kinds.has(kind)) return false;
    if (kind === "spot-suspect") return instance.instanceLifecycle === "spot";
    if (kind === "instance-store-suspect") return instance.rootDeviceType === "instance-store";
    if (kind === "multi-volume-cmk") return instance.volumes.filter((volume) => volume.encrypted).length > 1;
    if (kind === "eip-ipv6")
      return instance.networkInterfaces.some(
        (eni) => eni.ipv6Addresses.length > 0 || eni.association || eni.publicIp,
      );
    return false;
  });
}

/** Whether EC2 answered a call on a new security group with "not found" during the run (eventual consistency acted). */
export function eventualConsistencyActed(journal: { operation: string; error?: string }[]): number {
  return journal.filter((call) => call.error === "InvalidGroup.NotFound").length;
}
