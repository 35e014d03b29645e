import type { ReplacementPlan } from "./plan";
import type { ProbeCheck } from "./wave";

/** What one completed wave reports (built by the state machine's WaveDone state). */
export interface WaveResult {
  index: number;
  replaced: string[];
  launched: string[];
  startedAt: string;
  readyAt: string;
  retiredAt: string;
  probes: ProbeCheck[];
  /** Instances of the wave that were gone at its start (quarantined, replaced by AWS). */
  gone: { instanceId: string; why: string }[];
  /** Instances the wave did not retire because something else had taken them out meanwhile. */
  notRetired: { instanceId: string; why: string }[];
}

/** The instances a wave really replaced: those it named, less those that went another way. */
function replacedBy(wave: WaveResult): string[] {
  const elsewhere = new Set([...wave.gone, ...wave.notRetired].map((item) => item.instanceId));
  return wave.replaced.filter((id) => !elsewhere.has(id));
}

/** The summary carried by the "Replacement Completed" event and returned by the execution. */
export interface ReplacementSummary {
  executionId: string;
  groupName: string;
  reason: string;
  target: { launchTemplateId: string; version: string; imageId: string };
  instancesReplaced: number;
  waves: number;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  estimatedSeconds: number;
  perWave: {
    index: number;
    replaced: string[];
    launched: string[];
    /** Named instances that went another way (quarantined, replaced by AWS) before the wave retired them. */
    wentElsewhere: { instanceId: string; why: string }[];
    readySeconds: number;
    totalSeconds: number;
    probes: string[];
  }[];
}

const secondsBetween = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 1000);

/** Summarizes a completed replacement from its plan and wave results. */
export function summarizeReplacement(args: {
  executionId: string;
  plan: ReplacementPlan;
  waveResults: WaveResult[];
  now: Date;
}): ReplacementSummary {
  const { plan, waveResults, now } = args;
  const finishedAt = now.toISOString();
  return {
    executionId: args.executionId,
    groupName: plan.groupName,
    reason: plan.reason,
    target: {
      launchTemplateId: plan.target.launchTemplateId,
      version: plan.target.version,
      imageId: plan.target.imageId,
    },
    instancesReplaced: waveResults.reduce((sum, wave) => sum + replacedBy(wave).length, 0),
    waves: waveResults.length,
    startedAt: plan.plannedAt,
    finishedAt,
    durationSeconds: secondsBetween(plan.plannedAt, finishedAt),
    estimatedSeconds: plan.estimate.totalSeconds,
    perWave: waveResults.map((wave) => ({
      index: wave.index,
      replaced: replacedBy(wave),
      launched: wave.launched,
      wentElsewhere: [...wave.gone, ...wave.notRetired],
      readySeconds: secondsBetween(wave.startedAt, wave.readyAt),
      totalSeconds: secondsBetween(wave.startedAt, wave.retiredAt),
      probes: wave.probes.map(
        (probe) => `${probe.check}: ${probe.passed ? "pass" : "fail"} (${probe.detail})`,
      ),
    })),
  };
}
