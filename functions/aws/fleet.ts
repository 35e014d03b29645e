import { GroupNotFoundError } from "../engine/errors";
import type { GroupSnapshot } from "../engine/types";
import { describeGroup } from "./autoscaling";
import { describeInstances } from "./ec2";

/** Reads a group and joins each instance with its EC2 details (image, launch time, tags). */
export async function readGroupWithInstances(groupName: string): Promise<GroupSnapshot> {
  const group = await describeGroup(groupName);
  if (!group) throw new GroupNotFoundError(groupName);
  const details = new Map(
    (await describeInstances(group.instances.map((instance) => instance.instanceId))).map((item) => [
      item.instanceId,
      item,
    ]),
  );
  return {
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
  };
}

/** Reads a group without EC2 details; throws GroupNotFoundError when it is gone. */
export async function readGroup(groupName: string): Promise<GroupSnapshot> {
  const group = await describeGroup(groupName);
  if (!group) throw new GroupNotFoundError(groupName);
  return group;
}
