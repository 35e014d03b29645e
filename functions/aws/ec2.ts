import {
  CreateLaunchTemplateVersionCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const ec2 = () => clientFor("ec2", () => new EC2Client(sdkClientDefaults));

/** What Phoenix reads about one EC2 instance. */
export interface Ec2Instance {
  instanceId: string;
  imageId?: string;
  launchTime?: string;
  state?: string;
  privateIpAddress?: string;
  tags: Record<string, string>;
}

// Ids go in a filter, not InstanceIds: one unknown id in InstanceIds fails the whole call, a filter just
// omits it. Chunks keep each filter within EC2's 200-value limit.
const DESCRIBE_CHUNK = 200;

/** Instances (not terminated) carrying a tag with a given value, every page. */
export async function findTaggedInstances(tagKey: string, value: string): Promise<Ec2Instance[]> {
  return describeWithFilters([
    { Name: `tag:${tagKey}`, Values: [value] },
    { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
  ]);
}

/** Instances (not terminated) carrying a tag, whatever its value, every page. */
export async function findInstancesWithTag(tagKey: string): Promise<Ec2Instance[]> {
  return describeWithFilters([
    { Name: "tag-key", Values: [tagKey] },
    { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
  ]);
}

/** Describes instances by id (every page); unknown ids are simply absent from the result. */
export async function describeInstances(instanceIds: string[]): Promise<Ec2Instance[]> {
  const found: Ec2Instance[] = [];
  for (let start = 0; start < instanceIds.length; start += DESCRIBE_CHUNK) {
    found.push(
      ...(await describeWithFilters([
        { Name: "instance-id", Values: instanceIds.slice(start, start + DESCRIBE_CHUNK) },
      ])),
    );
  }
  return found;
}

/** Every instance matching the filters, following NextToken. */
async function describeWithFilters(filters: { Name: string; Values: string[] }[]): Promise<Ec2Instance[]> {
  const found: Ec2Instance[] = [];
  let nextToken: string | undefined;
  do {
    const response = await callAws("DescribeInstances", () =>
      ec2().send(new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken })),
    );
    for (const reservation of response.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        found.push({
          instanceId: instance.InstanceId ?? "",
          imageId: instance.ImageId,
          launchTime: instance.LaunchTime?.toISOString(),
          state: instance.State?.Name,
          privateIpAddress: instance.PrivateIpAddress,
          tags: Object.fromEntries((instance.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
        });
      }
    }
    nextToken = response.NextToken;
  } while (nextToken);
  return found;
}

/** A launch template version resolved to its number and image. */
export interface LaunchTemplateVersion {
  launchTemplateId: string;
  launchTemplateName: string;
  version: string;
  imageId: string;
}

/**
 * Resolves a launch template version ("7", "$Latest" or "$Default") to an explicit number and its image;
 * undefined when the template or version does not exist.
 */
export async function resolveLaunchTemplateVersion(
  launchTemplateId: string,
  version: string,
): Promise<LaunchTemplateVersion | undefined> {
  const response = await callAws("DescribeLaunchTemplateVersions", async () => {
    try {
      return await ec2().send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: launchTemplateId,
          Versions: [version],
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? "";
      // EC2 reports a missing template or version as an error; for Phoenix it is an answer.
      if (/^InvalidLaunchTemplate(Id|Name)\.(NotFound|Malformed|VersionNotFound)$/.test(name))
        return undefined;
      throw error;
    }
  });
  const found = response?.LaunchTemplateVersions?.[0];
  if (!found?.VersionNumber) return undefined;
  return {
    launchTemplateId: found.LaunchTemplateId ?? launchTemplateId,
    launchTemplateName: found.LaunchTemplateName ?? "",
    version: String(found.VersionNumber),
    imageId: found.LaunchTemplateData?.ImageId ?? "",
  };
}

/** Marker in the description of launch template versions Phoenix creates for a new image. */
const PHOENIX_VERSION_MARK = "phoenix: image";

/** The newest launch template version Phoenix created for `imageId`, if any (read-only). */
export async function findImageVersion(
  launchTemplateId: string,
  imageId: string,
): Promise<LaunchTemplateVersion | undefined> {
  const existing = await callAws("DescribeLaunchTemplateVersions", () =>
    ec2().send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: launchTemplateId,
        Filters: [{ Name: "image-id", Values: [imageId] }],
      }),
    ),
  );
  const mine = (existing.LaunchTemplateVersions ?? [])
    .filter((version) => version.VersionDescription?.startsWith(PHOENIX_VERSION_MARK))
    .sort((a, b) => (b.VersionNumber ?? 0) - (a.VersionNumber ?? 0))[0];
  if (!mine?.VersionNumber) return undefined;
  return {
    launchTemplateId,
    launchTemplateName: mine.LaunchTemplateName ?? "",
    version: String(mine.VersionNumber),
    imageId,
  };
}

/**
 * Creates a launch template version that is `sourceVersion` with only the image changed, or returns the
 * one Phoenix already created for this image (a redelivered event must not create a second).
 */
export async function ensureImageVersion(args: {
  launchTemplateId: string;
  sourceVersion: string;
  imageId: string;
  note: string;
}): Promise<LaunchTemplateVersion & { created: boolean }> {
  const mine = await findImageVersion(args.launchTemplateId, args.imageId);
  if (mine) return { ...mine, created: false };
  const response = await callAws("CreateLaunchTemplateVersion", () =>
    ec2().send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: args.launchTemplateId,
        SourceVersion: args.sourceVersion,
        VersionDescription: `${PHOENIX_VERSION_MARK} ${args.imageId} (${args.note})`.slice(0, 255),
        LaunchTemplateData: { ImageId: args.imageId },
      }),
    ),
  );
  const created = response.LaunchTemplateVersion;
  return {
    launchTemplateId: args.launchTemplateId,
    launchTemplateName: created?.LaunchTemplateName ?? "",
    version: String(created?.VersionNumber ?? ""),
    imageId: args.imageId,
    created: true,
  };
}
