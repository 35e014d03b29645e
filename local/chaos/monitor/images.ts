// Image rollouts: the groups of a channel roll in the order of their phoenix:wave tags, a wave only after
// every group of the earlier waves completed (so a halted rollout starts no later wave), and an image
// announced earlier never lands on a group after a newer one landed there. Judged from the rollout's
// request (its image and channel), the groups' tags when it started, its child executions (Step Functions
// records which execution started which), the images' announcements on the bus and the group changes.
import type { SimLogEntry } from "../../sim/model";
import type { ExecutionFacts } from "./facts";
import { waveOf } from "./rules";
import type { Invariant, InvariantFamily, MonitorContext } from "./types";

interface RolloutScope {
  channel: string;
  imageId: string;
  /** Every managed group of the channel with a readable wave, as tagged when the rollout started. */
  waves: Map<string, number>;
}

/** A child completed its group: it succeeded, and was not turned away because the group was busy. */
const completedGroup = (child: ExecutionFacts) =>
  child.status === "SUCCEEDED" && child.output?.skipped !== true;

/** When each image was announced on its channel (the bus's Image Published events, by when they were put). */
function announcedAt(ctx: MonitorContext, imageId: string): number | undefined {
  const times = ctx.world.events
    .filter(
      (event) =>
        event.detailType === "Image Published" && (event.detail as { imageId?: string }).imageId === imageId,
    )
    .map((event) => event.at);
  return times.length > 0 ? Math.min(...times) : undefined;
}

export const images: InvariantFamily = () => {
  const scopes = new Map<string, RolloutScope>();

  const waves: Invariant = {
    name: "imageWaves",
    promise: "an image rollout starts a wave only after every group of the earlier waves completed",
    onExecutionStarted(ctx, execution) {
      if (execution.machine === "image-rollout") {
        const image = execution.request.image as { channel?: string; imageId?: string } | undefined;
        if (!image?.channel || !image.imageId) return;
        const scope: RolloutScope = { channel: image.channel, imageId: image.imageId, waves: new Map() };
        for (const group of ctx.world.groups.values()) {
          if (group.tags.get("phoenix:managed") !== "true") continue;
          if (group.tags.get("phoenix:image-channel") !== image.channel) continue;
          const wave = waveOf(Object.fromEntries(group.tags));
          if (wave !== undefined) scope.waves.set(group.groupName, wave);
        }
        scopes.set(execution.arn, scope);
        return;
      }
      const parent = execution.startedBy?.executionArn;
      const scope = parent ? scopes.get(parent) : undefined;
      if (!scope || execution.machine !== "replace-group" || !execution.groupName) return;
      const wave = scope.waves.get(execution.groupName);
      if (wave === undefined) {
        ctx.violate(
          "imageWaves",
          execution.groupName,
          `rollout of ${scope.imageId} replaces a group with no readable wave`,
        );
        return;
      }
      const siblings = ctx.facts
        .ofMachine("replace-group")
        .filter((child) => child.startedBy?.executionArn === parent);
      for (const [groupName, earlier] of scope.waves) {
        if (earlier >= wave) continue;
        const children = siblings.filter((child) => child.groupName === groupName);
        if (children.some(completedGroup)) continue;
        const failed = children.find((child) => child.status !== "RUNNING" && child.status !== "SUCCEEDED");
        ctx.violate(
          "imageWaves",
          execution.groupName,
          failed
            ? `the rollout of ${scope.imageId} started wave ${wave} after ${groupName} (wave ${earlier}) ended ${failed.status} ${failed.error ?? ""}: a halted rollout went on`
            : `the rollout of ${scope.imageId} started wave ${wave} before ${groupName} (wave ${earlier}) completed`,
        );
      }
    },
  };

  const landed = new Map<string, { at: number; imageId: string; announced: number }[]>();
  const order: Invariant = {
    name: "imageOrder",
    promise: "an image announced earlier never lands on a group after a newer one landed there",
    onLog(ctx, entry: SimLogEntry) {
      if (entry.kind !== "group-updated" || !entry.groupName) return;
      const execution = ctx.facts.executionOf(entry.caller);
      if (execution?.machine !== "replace-group") return;
      const after = entry.data?.after as { version?: string } | undefined;
      const before = entry.data?.before as { version?: string } | undefined;
      // Landing is a replacement setting its own target version (a rollback sets the old one back).
      const target = ctx.facts.targetVersionOf(execution);
      if (!after?.version || after.version === before?.version || after.version !== target) return;
      const imageId = ctx.facts.imageOfVersion(entry.groupName, target);
      const announced = imageId ? announcedAt(ctx, imageId) : undefined;
      if (!imageId || announced === undefined) return;
      const history = landed.get(entry.groupName) ?? [];
      const newer = history.find((item) => item.announced > announced && item.imageId !== imageId);
      if (newer)
        ctx.violate(
          "imageOrder",
          entry.groupName,
          `${execution.name} lands ${imageId} (announced ${new Date(announced).toISOString().slice(11, 19)}) after ${newer.imageId} (announced ${new Date(newer.announced).toISOString().slice(11, 19)}) landed`,
        );
      history.push({ at: entry.at, imageId, announced });
      landed.set(entry.groupName, history);
    },
  };

  return [waves, order];
};
