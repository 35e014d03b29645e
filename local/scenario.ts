// Scenarios are data files (local/scenarios/*.json) describing a simulated account and what to run on it.
// Copy one, edit it, and run it with `npm start -- --scenario path/to/file.json`.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { parseOrThrow } from "../functions/engine/policy";
import { SimWorld } from "./sim/world";
import { REPO_ROOT } from "./state-machine";

const range = z
  .tuple([z.number().min(0), z.number().min(0)])
  .refine(([min, max]) => min <= max, "min must not exceed max");

const ImageSchema = z.object({
  imageId: z.string().regex(/^ami-[0-9a-f]{8,17}$/),
  name: z.string().default(""),
  /** Owner account; this account when absent. */
  ownerId: z
    .string()
    .regex(/^\d{12}$/)
    .optional(),
  state: z.string().default("available"),
  /** When EC2 created it; when absent, images are created an hour apart in the order listed, before startTime. */
  createdAt: z.iso.datetime().optional(),
  deprecatedAt: z.iso.datetime().optional(),
  tags: z.record(z.string(), z.string()).default({}),
  /** A bad image boots, but its application never answers health checks. */
  good: z.boolean().default(true),
  bootSeconds: range.default([10, 40]),
  httpStatus: z.number().int().default(200),
});

const RuleSchema = z.object({
  protocol: z.string().default("tcp"),
  fromPort: z.number().int().optional(),
  toPort: z.number().int().optional(),
  cidr: z.string(),
});

const TargetGroupSchema = z.object({
  name: z.string().min(1),
  healthCheckIntervalSeconds: z.number().int().min(5).max(300).default(30),
  healthyThresholdCount: z.number().int().min(2).max(10).default(5),
  unhealthyThresholdCount: z.number().int().min(2).max(10).default(2),
  deregistrationDelaySeconds: z.number().int().min(0).max(3600).default(300),
  /** Phoenix registers and deregisters targets only in target groups tagged phoenix:managed=true. */
  tags: z.record(z.string(), z.string()).default({}),
});

const TagsSchema = z.record(z.string(), z.string());

const GroupSchema = z.object({
  name: z.string().min(1),
  launchTemplate: z.string().min(1),
  /** Launch template version as set on the group: a number, "$Latest" or "$Default". */
  version: z.string().default("$Default"),
  minSize: z.number().int().min(0),
  maxSize: z.number().int().min(0),
  desiredCapacity: z.number().int().min(0),
  availabilityZones: z.array(z.string()).min(1).default(["us-east-1a", "us-east-1b", "us-east-1c"]),
  targetGroups: z.array(z.string()).default([]),
  tags: z.record(z.string(), z.string()).default({}),
  healthCheckType: z.enum(["EC2", "ELB"]).default("ELB"),
  healthCheckGracePeriod: z.number().int().min(0).default(300),
  suspendedProcesses: z.array(z.string()).default([]),
  /** Cohorts of existing instances; their counts add up to the desired capacity. */
  instances: z
    .array(
      z
        .object({
          count: z.number().int().min(1),
          /** Version the cohort was launched from (its image is that version's). */
          launchTemplateVersion: z.string().regex(/^[0-9]+$/),
          /** Ages in hours [youngest, oldest]: spread evenly over the cohort. */
          ageHours: range.default([1, 100]),
          /** Spot instances (AWS refuses termination protection on them). */
          lifecycle: z.literal("spot").optional(),
          /** An instance-store root cannot be stopped, and its data is lost when the instance goes. */
          rootDeviceType: z.enum(["ebs", "instance-store"]).default("ebs"),
          /** KMS key (alias of `kmsKeys`) encrypting the root volume. */
          rootKmsKey: z.string().optional(),
          /** EBS data volumes besides the root. */
          dataVolumes: z
            .array(
              z.object({
                deviceName: z.string(),
                sizeGiB: z.number().int().min(1),
                kmsKey: z.string().optional(),
              }),
            )
            .default([]),
          /** IPv6 addresses per instance on its primary interface. */
          ipv6: z.number().int().min(0).max(4).default(0),
          /** The primary interface gets a public IPv4 address from Amazon's pool. */
          publicIp: z.boolean().default(false),
        })
        .strict(),
    )
    .min(1),
});

/** The tags a user puts on a managed group's target groups and Elastic IPs (README "Let Phoenix manage a group"). */
export const MANAGED_TAGS = { "phoenix:managed": "true" };
/** A managed group's launch template: tagged, and tagging the volumes and interfaces it launches. */
export const MANAGED_LAUNCH_TEMPLATE = {
  tags: MANAGED_TAGS,
  tagSpecifications: { instance: MANAGED_TAGS, volume: MANAGED_TAGS, "network-interface": MANAGED_TAGS },
};

/** A scenario file. */
export const ScenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().default(""),
    seed: z.number().int().default(1),
    startTime: z.iso.datetime().default("2026-11-23T09:00:00Z"),
    timing: z.record(z.string(), z.unknown()).default({}),
    images: z.array(ImageSchema).min(1),
    launchTemplates: z
      .array(
        z.object({
          name: z.string().min(1),
          instanceType: z.string().default("t4g.small"),
          /** Image of each version, in order (version 1 first). */
          versions: z.array(z.string()).min(1),
          defaultVersion: z.number().int().min(1).default(1),
          /** Security groups (by name) of the instances it launches. */
          securityGroups: z.array(z.string()).default(["app"]),
          /** Instance profile name, if any (its role has the same name). */
          instanceProfile: z.string().optional(),
          /** The template's own tags (Phoenix adds versions only to templates tagged phoenix:managed=true). */
          tags: TagsSchema.default({}),
          /** TagSpecifications of every version: tags given at launch to instances, volumes, network interfaces. */
          tagSpecifications: z
            .object({
              instance: TagsSchema.optional(),
              volume: TagsSchema.optional(),
              "network-interface": TagsSchema.optional(),
            })
            .strict()
            .default({}),
          /** What a shutdown from inside the instance does. */
          shutdownBehavior: z.enum(["stop", "terminate"]).default("stop"),
        }),
      )
      .min(1),
    /** Security groups of the VPC ("app", allowing the load balancer in and anything out, always exists). */
    securityGroups: z
      .array(
        z.object({
          name: z.string().min(1),
          ingress: z.array(RuleSchema).default([]),
          egress: z.array(RuleSchema).default([{ protocol: "-1", cidr: "0.0.0.0/0" }]),
          tags: z.record(z.string(), z.string()).default({}),
        }),
      )
      .default([]),
    instanceProfiles: z.array(z.string()).default([]),
    /** Tags of the role of each instance profile (its role has the profile's name); tagged phoenix:managed by default. */
    roleTags: z.record(z.string(), z.record(z.string(), z.string())).default({}),
    /** Customer managed KMS keys, by alias ("alias/evidence"), with their state. */
    kmsKeys: z
      .array(
        z.object({
          alias: z.string().startsWith("alias/"),
          state: z.enum(["Enabled", "Disabled", "PendingDeletion"]).default("Enabled"),
        }),
      )
      .default([]),
    /** Tags of the subnet of a zone (one subnet per zone), e.g. phoenix:isolation-nacl=allowed. */
    subnets: z
      .array(z.object({ zone: z.string(), tags: z.record(z.string(), z.string()).default({}) }))
      .default([]),
    /** Open connections of chosen instances (attacker sessions), for the connection-tracking model. */
    connections: z
      .array(
        z.object({
          group: z.string(),
          instance: z.number().int().min(0).default(0),
          peer: z.string(),
          port: z.number().int(),
          direction: z.enum(["inbound", "outbound"]),
          protocol: z.enum(["tcp", "udp", "icmp"]).default("tcp"),
          /** A service whose flows EC2 tracks automatically (e.g. "Network Load Balancer"). */
          automaticallyTrackedBy: z.string().optional(),
          /** Seconds between its packets; absent: always busy. */
          idleSeconds: z.number().min(0).optional(),
        }),
      )
      .default([]),
    /** Elastic IPs associated with chosen instances. */
    elasticIps: z
      .array(
        z.object({
          group: z.string(),
          instance: z.number().int().min(0).default(0),
          publicIp: z.string(),
          tags: TagsSchema.default({}),
        }),
      )
      .default([]),
    targetGroups: z.array(TargetGroupSchema).default([]),
    groups: z.array(GroupSchema).min(1),
    alarms: z
      .array(z.object({ name: z.string(), state: z.enum(["OK", "ALARM", "INSUFFICIENT_DATA"]) }))
      .default([]),
    /** Parameter Store parameters (golden AMI parameters). */
    parameters: z.array(z.object({ name: z.string().startsWith("/"), value: z.string() })).default([]),
    /** EC2 Image Builder images, by build version ARN, with the AMIs they distributed. */
    builtImages: z
      .array(
        z.object({
          arn: z.string().startsWith("arn:aws:imagebuilder:"),
          name: z.string(),
          version: z.string().default("1.0.0"),
          tags: z.record(z.string(), z.string()).default({}),
          /** The AMIs it distributed: region, and account (this account when absent). */
          amis: z.array(
            z.object({
              region: z.string(),
              image: z.string(),
              accountId: z
                .string()
                .regex(/^\d{12}$/)
                .optional(),
            }),
          ),
        }),
      )
      .default([]),
    /** Stack settings for this scenario (the environment variables serverless.yml sets from its params). */
    settings: z.record(z.string().regex(/^PHOENIX_[A-Z_]+$/), z.string()).default({}),
    /** What happens, and how every execution is expected to end (npm start exits 0 only when it does). */
    run: z
      .object({
        /** Start one execution directly... */
        stateMachine: z.string().optional(),
        input: z.record(z.string(), z.unknown()).optional(),
        /** ...and/or put events on the default bus, each after a delay... */
        events: z
          .array(
            z.object({
              afterSeconds: z.number().min(0).default(0),
              /** The bus: "default" (AWS services), or Phoenix's own bus ("phoenix-local" here). */
              eventBusName: z.string().default("default"),
              source: z.string(),
              detailType: z.string(),
              detail: z.record(z.string(), z.unknown()),
              resources: z.array(z.string()).default([]),
            }),
          )
          .default([]),
        /** ...and/or run the scheduled age sweep. */
        sweep: z
          .object({
            dryRun: z.boolean().default(false),
            times: z.number().int().min(1).default(1),
            everySeconds: z.number().int().min(60).default(3600),
          })
          .optional(),
        expect: z
          .array(
            z.object({
              stateMachine: z.string(),
              status: z.enum(["SUCCEEDED", "FAILED"]),
              error: z.string().optional(),
              /** How many executions of it; any number when absent. */
              count: z.number().int().min(0).optional(),
            }),
          )
          .min(1),
      })
      .refine(
        (run) => (run.stateMachine && run.input) || run.events.length > 0 || run.sweep,
        "needs stateMachine and input, events, or sweep",
      ),
  })
  .strict();

export type Scenario = z.infer<typeof ScenarioSchema>;

/** Loads a scenario by name (local/scenarios/<name>.json) or by path. */
export function loadScenario(nameOrPath: string): Scenario {
  const byName = join(REPO_ROOT, "local", "scenarios", `${nameOrPath}.json`);
  const path = existsSync(byName) ? byName : nameOrPath;
  if (!existsSync(path))
    throw new Error(`No scenario "${nameOrPath}" (looked for ${byName} and ${nameOrPath})`);
  return parseOrThrow(ScenarioSchema, JSON.parse(readFileSync(path, "utf8")), `scenario ${path}`);
}

/** Builds the simulated account a scenario describes: images, templates, target groups, groups, instances. */
export function buildWorld(scenario: Scenario): SimWorld {
  const world = new SimWorld({
    startTime: Date.parse(scenario.startTime),
    seed: scenario.seed,
    timing: scenario.timing,
  });
  for (const [index, image] of scenario.images.entries()) {
    world.images.set(image.imageId, {
      ...image,
      ownerId: image.ownerId ?? world.accountId,
      createdAt: image.createdAt
        ? Date.parse(image.createdAt)
        : world.clock.now() - (scenario.images.length - index) * 3600_000,
      deprecatedAt: image.deprecatedAt ? Date.parse(image.deprecatedAt) : undefined,
      tags: new Map(Object.entries(image.tags)),
    });
  }
  const securityGroupIds = new Map<string, string>();
  const appGroup = {
    name: "app",
    ingress: [{ protocol: "tcp", fromPort: 80, toPort: 80, cidr: "10.0.0.0/16" }],
    egress: [{ protocol: "-1", cidr: "0.0.0.0/0" }],
  };
  for (const spec of [appGroup, ...scenario.securityGroups.filter((item) => item.name !== "app")]) {
    const groupId = world.newId("sg");
    securityGroupIds.set(spec.name, groupId);
    world.securityGroups.set(groupId, {
      groupId,
      groupName: spec.name,
      vpcId: world.vpcId,
      description: spec.name,
      ingress: spec.ingress,
      egress: spec.egress,
      tags: new Map(Object.entries((spec as { tags?: Record<string, string> }).tags ?? {})),
    });
  }
  const profileArn = (name: string) => `arn:aws:iam::${world.accountId}:instance-profile/${name}`;
  const addProfile = (name: string) => {
    world.instanceProfiles.add(profileArn(name));
    world.instanceProfileRoles.set(profileArn(name), name);
    world.roles.set(name, {
      roleName: name,
      arn: `arn:aws:iam::${world.accountId}:role/${name}`,
      tags: new Map(Object.entries(scenario.roleTags?.[name] ?? { "phoenix:managed": "true" })),
      inlinePolicies: new Map(),
    });
  };
  for (const name of scenario.instanceProfiles) addProfile(name);
  const keyArns = new Map<string, string>();
  for (const [index, key] of (scenario.kmsKeys ?? []).entries()) {
    const keyId = `1234abcd-12ab-34cd-56ef-${String(index + 1).padStart(12, "0")}`;
    const arn = `arn:aws:kms:${world.region}:${world.accountId}:key/${keyId}`;
    keyArns.set(key.alias, arn);
    world.kmsKeys.set(keyId, {
      keyId,
      arn,
      state: key.state,
      manager: "CUSTOMER",
      deletionDate: key.state === "PendingDeletion" ? world.clock.now() + 7 * 86_400_000 : undefined,
    });
  }
  const keyArn = (alias: string | undefined) => {
    if (alias === undefined) return undefined;
    const arn = keyArns.get(alias);
    if (!arn) throw new Error(`no KMS key ${alias} in kmsKeys`);
    return arn;
  };
  for (const subnet of scenario.subnets ?? [])
    for (const [key, value] of Object.entries(subnet.tags)) world.subnetOf(subnet.zone).tags.set(key, value);
  for (const template of scenario.launchTemplates) {
    const launchTemplateId = world.newId("lt");
    const groupIds = template.securityGroups.map((name) => {
      const id = securityGroupIds.get(name);
      if (!id) throw new Error(`launch template ${template.name}: no security group named ${name}`);
      return id;
    });
    if (template.instanceProfile && !world.instanceProfiles.has(profileArn(template.instanceProfile)))
      addProfile(template.instanceProfile);
    world.launchTemplates.set(launchTemplateId, {
      launchTemplateId,
      launchTemplateName: template.name,
      defaultVersion: template.defaultVersion,
      latestVersion: template.versions.length,
      tags: new Map(Object.entries(template.tags)),
      versions: new Map(
        template.versions.map((imageId, index) => [
          index + 1,
          {
            versionNumber: index + 1,
            imageId,
            instanceType: template.instanceType,
            createdAt: world.clock.now(),
            securityGroupIds: groupIds,
            iamInstanceProfileArn: template.instanceProfile
              ? profileArn(template.instanceProfile)
              : undefined,
            tagSpecifications: template.tagSpecifications,
          },
        ]),
      ),
    });
  }
  const shutdownBehaviors = new Map(
    scenario.launchTemplates.map((template) => [
      [...world.launchTemplates.values()].find((item) => item.launchTemplateName === template.name)
        ?.launchTemplateId,
      template.shutdownBehavior ?? "stop",
    ]),
  );
  const targetGroupArns = new Map<string, string>();
  for (const targetGroup of scenario.targetGroups) {
    const arn = `arn:aws:elasticloadbalancing:${world.region}:${world.accountId}:targetgroup/${targetGroup.name}/${world.random.hex(16)}`;
    targetGroupArns.set(targetGroup.name, arn);
    world.targetGroups.set(arn, {
      ...targetGroup,
      targetGroupArn: arn,
      targetGroupName: targetGroup.name,
      targets: new Map(),
      tags: new Map(Object.entries(targetGroup.tags)),
    });
  }
  for (const spec of scenario.groups) {
    const template = [...world.launchTemplates.values()].find(
      (item) => item.launchTemplateName === spec.launchTemplate,
    );
    if (!template) throw new Error(`group ${spec.name}: no launch template named ${spec.launchTemplate}`);
    const total = spec.instances.reduce((sum, cohort) => sum + cohort.count, 0);
    if (total !== spec.desiredCapacity) {
      throw new Error(
        `group ${spec.name}: instance cohorts add up to ${total}, desired capacity is ${spec.desiredCapacity}`,
      );
    }
    const arns = spec.targetGroups.map((name) => {
      const arn = targetGroupArns.get(name);
      if (!arn) throw new Error(`group ${spec.name}: no target group named ${name}`);
      return arn;
    });
    const group = {
      groupName: spec.name,
      minSize: spec.minSize,
      maxSize: spec.maxSize,
      desiredCapacity: spec.desiredCapacity,
      launchTemplate: {
        launchTemplateId: template.launchTemplateId,
        launchTemplateName: template.launchTemplateName,
        version: spec.version,
      },
      availabilityZones: spec.availabilityZones,
      targetGroupArns: arns,
      suspendedProcesses: new Set(spec.suspendedProcesses),
      tags: new Map(Object.entries(spec.tags)),
      healthCheckType: spec.healthCheckType,
      healthCheckGracePeriod: spec.healthCheckGracePeriod,
      instanceIds: [] as string[],
      newInstancesProtectedFromScaleIn: false,
    };
    world.groups.set(spec.name, group);
    let placed = 0;
    for (const cohort of spec.instances) {
      const version = template.versions.get(Number(cohort.launchTemplateVersion));
      if (!version)
        throw new Error(
          `group ${spec.name}: launch template ${spec.launchTemplate} has no version ${cohort.launchTemplateVersion}`,
        );
      const [youngest, oldest] = cohort.ageHours;
      for (let n = 0; n < cohort.count; n++, placed++) {
        const ageHours =
          cohort.count === 1 ? oldest : oldest - ((oldest - youngest) * n) / (cohort.count - 1);
        const instance = world.addRunningInstance({
          imageId: version.imageId,
          instanceType: version.instanceType,
          availabilityZone: spec.availabilityZones[placed % spec.availabilityZones.length] as string,
          launchTime: world.clock.now() - Math.round(ageHours * 3600_000),
          launchTemplate: {
            launchTemplateId: template.launchTemplateId,
            launchTemplateName: template.launchTemplateName,
            version: String(version.versionNumber),
          },
          groupName: spec.name,
          tags: Object.fromEntries([...group.tags]),
          securityGroupIds: version.securityGroupIds,
          iamInstanceProfileArn: version.iamInstanceProfileArn,
          tagSpecifications: version.tagSpecifications,
          shutdownBehavior: shutdownBehaviors.get(template.launchTemplateId),
          lifecycle: cohort.lifecycle,
          rootDeviceType: cohort.rootDeviceType,
          rootKmsKeyId: keyArn(cohort.rootKmsKey),
          dataVolumes: (cohort.dataVolumes ?? []).map((volume) => ({
            deviceName: volume.deviceName,
            sizeGiB: volume.sizeGiB,
            kmsKeyId: keyArn(volume.kmsKey),
          })),
          ipv6Addresses: Array.from({ length: cohort.ipv6 ?? 0 }, () => world.nextIpv6()),
          publicIp: cohort.publicIp,
        });
        group.instanceIds.push(instance.instanceId);
        // Existing instances have long passed their health checks.
        for (const arn of arns) {
          world.targetGroups.get(arn)?.targets.set(instance.instanceId, {
            instanceId: instance.instanceId,
            state: "healthy",
            registeredAt: instance.launchTime,
            okStreak: 100,
            failStreak: 0,
          });
        }
      }
    }
  }
  const member = (groupName: string, index: number) => {
    const id = world.groups.get(groupName)?.instanceIds[index];
    if (!id) throw new Error(`no instance ${index} in group ${groupName}`);
    return world.requireInstance(id);
  };
  for (const [index, connection] of scenario.connections.entries()) {
    const instance = member(connection.group, connection.instance);
    instance.connections.push({
      id: `conn-${index}`,
      peer: connection.peer,
      port: connection.port,
      direction: connection.direction,
      protocol: connection.protocol,
      automaticallyTrackedBy: connection.automaticallyTrackedBy,
      idleSeconds: connection.idleSeconds,
      tracked: true,
      open: true,
    });
    // Whether its groups track it is the account's business, as for any flow.
    world.reviewConnections(instance);
  }
  for (const address of scenario.elasticIps) {
    const instance = member(address.group, address.instance);
    const eni = instance.networkInterfaces[0];
    const allocationId = world.newId("eipalloc");
    const associationId = world.newId("eipassoc");
    world.addresses.set(allocationId, {
      allocationId,
      publicIp: address.publicIp,
      associationId,
      instanceId: instance.instanceId,
      networkInterfaceId: eni?.networkInterfaceId,
      tags: new Map(Object.entries(address.tags)),
    });
    if (eni) {
      eni.association = { allocationId, associationId, publicIp: address.publicIp };
      world.settlePublicIp(instance, eni);
    }
  }
  for (const alarm of scenario.alarms)
    world.alarms.set(alarm.name, { alarmName: alarm.name, state: alarm.state });
  for (const parameter of scenario.parameters)
    world.parameters.set(parameter.name, { value: parameter.value, version: 1 });
  for (const image of scenario.builtImages)
    world.builtImages.set(image.arn, {
      ...image,
      amis: image.amis.map((ami) => ({ ...ami, accountId: ami.accountId ?? world.accountId })),
    });
  return world;
}

/** The execution input of a scenario that starts one directly. */
export function runInput(scenario: Scenario): Record<string, unknown> {
  if (!scenario.run.input) throw new Error(`scenario ${scenario.name} starts no execution directly`);
  return scenario.run.input;
}
