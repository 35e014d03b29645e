import { GroupNotFoundError } from "../engine/errors";
import type { GroupSnapshot } from "../engine/types";
import { describeGroup, listManagedGroups } from "./autoscaling";
import { describeInstances, type LaunchTemplateVersion, resolveLaunchTemplateVersion } from "./ec2";

/** Joins each instance of the groups with its EC2 details (image, launch time, tags): one paged read for all. */
async function withEc2Details(groups: GroupSnapshot[]): Promise<GroupSnapshot[]> {
  const ids = groups.flatMap((group) => group.instances.map((instance) => instance.instanceId));
  const details = new Map((await describeInstances(ids)).map((item) => [item.instanceId, item]));
  return groups.map((group) => ({
    ...group,
    instances: group.instances.map((instance) => {
      const detail = details.get(instance.instanceId);
      return {
        ...instance,
        imageId: detail?.imageId,
        launchTime: detail?.launchTime,
        tags: detail?.tags ?? {},
      };
    }),
  }));
}

/** Reads a group and joins each instance with its EC2 details (image, launch time, tags). */
export async function readGroupWithInstances(groupName: string): Promise<GroupSnapshot> {
  const [group] = await withEc2Details([await readGroup(groupName)]);
  return group as GroupSnapshot;
}

/** Reads a group without EC2 details; throws GroupNotFoundError when it is gone. */
export async function readGroup(groupName: string): Promise<GroupSnapshot> {
  const group = await describeGroup(groupName);
  if (!group) throw new GroupNotFoundError(groupName);
  return group;
}

/** Every managed group (optionally of one image channel) with EC2 details, and the version each should run. */
export async function readManagedFleet(
  channel?: string,
): Promise<{ groups: GroupSnapshot[]; currentVersions: Map<string, LaunchTemplateVersion> }> {
  const groups = await withEc2Details(await listManagedGroups(channel));
  const resolved = new Map<string, LaunchTemplateVersion | undefined>();
  const currentVersions = new Map<string, LaunchTemplateVersion>();
  for (const group of groups) {
    const template = group.launchTemplate;
    if (!template) continue;
    const key = `${template.launchTemplateId}|${template.version}`;
    if (!resolved.has(key))
      resolved.set(key, await resolveLaunchTemplateVersion(template.launchTemplateId, template.version));
    const version = resolved.get(key);
    if (version) currentVersions.set(group.groupName, version);
  }
  return { groups, currentVersions };
}
