// Scenarios of any size for scale tests and benchmarks: one managed group of `instances` old instances
// behind one target group with fast health checks, whose launch template has a version 2 to roll onto.
import { MANAGED_LAUNCH_TEMPLATE, MANAGED_TAGS, type Scenario, ScenarioSchema } from "./scenario";

/** Options of a generated scenario. */
export interface ScaleOptions {
  instances: number;
  /** Groups of that size (named big0, big1, ...). */
  groups?: number;
  healthCheckIntervalSeconds?: number;
  healthyThresholdCount?: number;
  deregistrationDelaySeconds?: number;
  bootSeconds?: [number, number];
  seed?: number;
}

/** A scenario with `groups` managed groups of `instances` instances each, all on launch template version 1. */
export function scaleScenario(options: ScaleOptions): Scenario {
  const { instances, groups = 1 } = options;
  return ScenarioSchema.parse({
    name: `scale-${groups}x${instances}`,
    seed: options.seed ?? 1,
    images: [
      { imageId: "ami-0c1d2e3f4a5b60001", bootSeconds: options.bootSeconds ?? [10, 40] },
      { imageId: "ami-0c1d2e3f4a5b60002", bootSeconds: options.bootSeconds ?? [10, 40] },
    ],
    launchTemplates: [
      {
        name: "app",
        versions: ["ami-0c1d2e3f4a5b60001", "ami-0c1d2e3f4a5b60002"],
        ...MANAGED_LAUNCH_TEMPLATE,
      },
    ],
    targetGroups: [
      {
        name: "app",
        tags: MANAGED_TAGS,
        healthCheckIntervalSeconds: options.healthCheckIntervalSeconds ?? 5,
        healthyThresholdCount: options.healthyThresholdCount ?? 2,
        unhealthyThresholdCount: 2,
        deregistrationDelaySeconds: options.deregistrationDelaySeconds ?? 30,
      },
    ],
    groups: Array.from({ length: groups }, (_, index) => ({
      name: `big${index}`,
      launchTemplate: "app",
      version: "1",
      minSize: instances,
      maxSize: instances,
      desiredCapacity: instances,
      targetGroups: ["app"],
      healthCheckGracePeriod: 300,
      tags: { "phoenix:managed": "true", "phoenix:image-channel": "app" },
      instances: [{ count: instances, launchTemplateVersion: "1", ageHours: [10, 500] }],
    })),
    run: {
      stateMachine: "replace-group",
      input: { groupName: "big0", reason: "new-image", targetVersion: "2" },
      expect: [{ stateMachine: "replace-group", status: "SUCCEEDED" }],
    },
  });
}
