import { describe, expect, it } from "vitest";
import { planReplacement } from "../../functions/engine/plan";
import { summarizeReplacement, type WaveResult } from "../../functions/engine/summary";
import { fastTargetGroup, group, instanceId, NOW, policy, target } from "../fixtures";

const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000).toISOString();

describe("the summary of a completed replacement", () => {
  it("counts only what each wave replaced itself, and times every wave", () => {
    const plan = planReplacement({
      group: group(4),
      target,
      reason: "new-image",
      policy: policy({ maxSurgePercent: 50 }),
      targetGroups: [fastTargetGroup],
      now: NOW,
    });
    const waves: WaveResult[] = [
      {
        index: 0,
        replaced: [instanceId(1), instanceId(2)],
        launched: [instanceId(11), instanceId(12)],
        startedAt: at(0),
        readyAt: at(90),
        retiredAt: at(100),
        probes: [{ check: "target-health", passed: true, detail: "2 healthy in 1 target groups" }],
        gone: [],
        notRetired: [{ instanceId: instanceId(2), why: "quarantined" }],
      },
      {
        index: 1,
        replaced: [instanceId(3), instanceId(4)],
        launched: [instanceId(13)],
        startedAt: at(100),
        readyAt: at(160),
        retiredAt: at(171),
        probes: [{ check: "image", passed: false, detail: "x" }],
        gone: [{ instanceId: instanceId(4), why: "no longer in the group" }],
        notRetired: [],
      },
    ];
    const summary = summarizeReplacement({
      executionId: "arn:x",
      plan,
      waveResults: waves,
      now: new Date(at(200)),
    });
    expect(summary).toMatchObject({
      executionId: "arn:x",
      groupName: "web-prod",
      reason: "new-image",
      target: { launchTemplateId: target.launchTemplateId, version: target.version, imageId: target.imageId },
      instancesReplaced: 2,
      waves: 2,
      startedAt: plan.plannedAt,
      finishedAt: at(200),
      durationSeconds: 200,
      estimatedSeconds: plan.estimate.totalSeconds,
    });
    expect(summary.perWave).toEqual([
      {
        index: 0,
        replaced: [instanceId(1)],
        launched: [instanceId(11), instanceId(12)],
        wentElsewhere: [{ instanceId: instanceId(2), why: "quarantined" }],
        readySeconds: 90,
        totalSeconds: 100,
        probes: ["target-health: pass (2 healthy in 1 target groups)"],
      },
      {
        index: 1,
        replaced: [instanceId(3)],
        launched: [instanceId(13)],
        wentElsewhere: [{ instanceId: instanceId(4), why: "no longer in the group" }],
        readySeconds: 60,
        totalSeconds: 71,
        probes: ["image: fail (x)"],
      },
    ]);
  });
});
