// The shapes of run a sabotage needs, read from (or made of) a drawn chaos run: its trigger, faults,
// groups, policies and sweep settings. Only type imports (see catalogue.ts).
import type { RolloutPolicy } from "../../../functions/engine/policy";
import type { ChaosRun, Fault, FaultKind } from "../generate";

export const tags = (run: ChaosRun, index = 0) => run.scenario.groups[index]?.tags ?? {};
export const desired = (run: ChaosRun) => run.scenario.groups[0]?.desiredCapacity ?? 0;
export const policy = (run: ChaosRun, index = 0) =>
  JSON.parse(tags(run, index)["phoenix:policy"] ?? "{}") as Partial<RolloutPolicy>;
export const kinds = (run: ChaosRun) => run.faults.map((fault) => fault.kind);
export const quiet = (run: ChaosRun) => run.faults.length === 0;
export const only = (run: ChaosRun, allowed: FaultKind[]) =>
  kinds(run).every((kind) => allowed.includes(kind));
export const withFaults = (run: ChaosRun, ...faults: Fault[]): ChaosRun => ({
  ...run,
  faults: [...run.faults.filter((fault) => !faults.some((added) => added.kind === fault.kind)), ...faults],
});
export const setting = (run: ChaosRun, name: string) =>
  (run.scenario.settings as Record<string, string>)[name];

/** A sweep run whose instances are due and that no other budget holds back. */
export const sweepDue = (run: ChaosRun) =>
  run.trigger === "age-sweep" &&
  quiet(run) &&
  setting(run, "PHOENIX_MIN_AGE") === "1h" &&
  !["Mon-Fri 02:00-05:00 Europe/Berlin", "Sat,Sun 22:00-06:00 America/New_York"].includes(
    setting(run, "PHOENIX_MAINTENANCE_WINDOW") ?? "",
  );

/** Makes the run's target groups drain for `seconds` (a suspect then stays a member that long after its detach). */
export const drainFor = (run: ChaosRun, seconds: number): ChaosRun => {
  const scenario = structuredClone(run.scenario);
  for (const targetGroup of scenario.targetGroups) targetGroup.deregistrationDelaySeconds = seconds;
  return { ...run, scenario };
};
