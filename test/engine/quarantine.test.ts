import { describe, expect, it } from "vitest";
import { GroupNotManagedError, InvalidInputError, PhoenixError } from "../../functions/engine/errors";
import {
  AlreadyQuarantinedError,
  type ContainmentOptions,
  caseIdFor,
  InstanceNotFoundError,
  planQuarantine,
  QuarantinePlanSchema,
  QuarantineRequestSchema,
  type SuspectInstance,
} from "../../functions/engine/quarantine";
import {
  canonicalJson,
  type EvidenceManifest,
  manifestDigest,
} from "../../functions/engine/quarantine-manifest";
import { group, instance, instanceId, NOW, policy, target } from "../fixtures";

const suspect = (n: number, overrides: Partial<SuspectInstance> = {}): SuspectInstance => ({
  instanceId: instanceId(n),
  state: "running",
  imageId: "ami-0c1d2e3f4a5b60001",
  instanceType: "t4g.small",
  launchTime: "2026-11-20T09:00:00.000Z",
  availabilityZone: "us-east-1a",
  vpcId: "vpc-1",
  subnetId: "subnet-1",
  tags: {},
  networkInterfaces: [{ networkInterfaceId: `eni-${n}`, groups: ["sg-app"] }],
  elasticIps: [],
  volumes: [{ volumeId: `vol-${n}`, deviceName: "/dev/xvda", deleteOnTermination: true }],
  groupName: "web-prod",
  ...overrides,
});
const options: ContainmentOptions = { networkAcl: "off", revokeCredentials: true };
const request = (ids: string[], extra: Record<string, unknown> = {}) =>
  QuarantineRequestSchema.parse({ instanceIds: ids, reason: "beaconing to a C2 address", ...extra });

describe("a quarantine request", () => {
  it("names instances, says why, and may carry a case id", () => {
    expect(request([instanceId(1)])).toEqual({
      instanceIds: [instanceId(1)],
      reason: "beaconing to a C2 address",
      requestedBy: "unknown",
      dryRun: false,
    });
    const refused = (input: Record<string, unknown>) =>
      QuarantineRequestSchema.safeParse({ instanceIds: [instanceId(1)], reason: "suspected", ...input }).error
        ?.issues[0]?.message;
    expect(refused({ reason: " a " })).toBe("say why, in a few words");
    expect(refused({ caseId: "IR 1" })).toBe("letters, digits, '.', '_', ':' and '-' only (at most 64)");
    expect(refused({ caseId: "x".repeat(65) })).toBe(
      "letters, digits, '.', '_', ':' and '-' only (at most 64)",
    );
    expect(refused({ caseId: "IR-2026:0117.a_b" })).toBeUndefined();
    expect(refused({ instanceIds: [] })).toBeDefined();
    expect(refused({ extra: 1 })).toBeDefined();
  });

  it("without a case id gets one from the date and a hash of its instances (in any order) and reason", () => {
    const id = caseIdFor({ instanceIds: [instanceId(2), instanceId(1)], reason: "r" }, NOW);
    expect(id).toMatch(/^case-20261123-[0-9a-f]{8}$/);
    expect(caseIdFor({ instanceIds: [instanceId(1), instanceId(2)], reason: "r" }, NOW)).toBe(id);
    expect(caseIdFor({ instanceIds: [instanceId(1), instanceId(2)], reason: "s" }, NOW)).not.toBe(id);
  });
});

describe("planning a quarantine", () => {
  const managed = group(4);
  const plan = (
    instances: SuspectInstance[],
    ids = instances.map((item) => item.instanceId),
    overrides = {},
  ) =>
    planQuarantine({
      request: request(ids),
      instances,
      group: managed,
      target,
      policy: policy(),
      drainSeconds: 30,
      options,
      now: NOW,
      ...overrides,
    });

  it("records the suspects and the group, and raises capacity first as far as the floor needs", () => {
    const result = plan([suspect(1)]);
    expect(result).toMatchObject({
      reason: "beaconing to a C2 address",
      requestedBy: "unknown",
      requestedAt: NOW.toISOString(),
      instanceIds: [instanceId(1)],
      group: {
        groupName: "web-prod",
        desiredCapacity: 4,
        minSize: 4,
        maxSize: 4,
        floor: 4,
        healthyOthers: 3,
        raiseBy: 1,
        drainSeconds: 30,
        suspendedBefore: [],
        targetGroupArns: managed.targetGroupArns,
      },
    });
    expect(result.caseId).toMatch(/^case-/);
    expect(plan([suspect(1)], undefined, { policy: policy({ minHealthyPercent: 50 }) }).group?.raiseBy).toBe(
      0,
    );
    // Only healthy in-service others count; a suspect named twice is one suspect.
    const sick = group(4, {
      instances: [
        instance(1),
        instance(2, { healthStatus: "Unhealthy" }),
        instance(3, { lifecycleState: "Pending" }),
        instance(4),
      ],
    });
    const twice = plan([suspect(1)], [instanceId(1), instanceId(1)], { group: sick });
    expect(twice.instanceIds).toEqual([instanceId(1)]);
    expect(twice.group).toMatchObject({ healthyOthers: 1, raiseBy: 1 });
    expect(plan([suspect(1), suspect(4)], undefined, { group: sick }).group).toMatchObject({
      healthyOthers: 0,
      raiseBy: 2,
    });
    expect(plan([suspect(1)], undefined, { drainSeconds: undefined }).group?.drainSeconds).toBe(0);
  });

  it("plans a standalone instance without a group", () => {
    const result = planQuarantine({
      request: request([instanceId(9)], { caseId: "IR-9" }),
      instances: [suspect(9, { groupName: undefined })],
      options,
      now: NOW,
    });
    expect(result.caseId).toBe("IR-9");
    expect(result.group).toBeUndefined();
  });

  it("refuses what it cannot do safely, naming why", () => {
    expect(() => plan([suspect(1)], [instanceId(1), instanceId(7)])).toThrow(InstanceNotFoundError);
    expect(() => plan([suspect(1)], [instanceId(1), instanceId(7)])).toThrow(
      `No such running or stopped instance: ${instanceId(7)}`,
    );
    expect(() => plan([suspect(1, { state: "terminated" })])).toThrow(InstanceNotFoundError);
    expect(() => plan([suspect(1, { state: "shutting-down" })])).toThrow(InstanceNotFoundError);
    expect(plan([suspect(1, { state: "stopped" })]).instanceIds).toEqual([instanceId(1)]);
    expect(() => plan([suspect(1, { tags: { "phoenix:quarantined": "IR-1" } })])).toThrow(
      AlreadyQuarantinedError,
    );
    expect(() => plan([suspect(1, { tags: { "phoenix:quarantined": "IR-1" } })])).toThrow(
      `Already quarantined: ${instanceId(1)} (IR-1)`,
    );
    expect(() => plan([suspect(1), suspect(2, { groupName: "api" })])).toThrow(InvalidInputError);
    expect(() => plan([suspect(1), suspect(2, { groupName: undefined })])).toThrow(
      "instanceIds: must all be in the same Auto Scaling group, or all standalone",
    );
    expect(() => plan([suspect(1)], undefined, { group: undefined })).toThrow(
      "Group web-prod of the suspects could not be read",
    );
    expect(() => plan([suspect(1)], undefined, { policy: undefined })).toThrow(PhoenixError);
    expect(() => plan([suspect(1)], undefined, { target: undefined })).toThrow(PhoenixError);
    expect(() => plan([suspect(1)], undefined, { group: group(4, { tags: {} }) })).toThrow(
      GroupNotManagedError,
    );
  });

  it("carries its plan between the steps as the schema reads it", () => {
    const result = plan([suspect(1)]);
    expect(QuarantinePlanSchema.parse(result)).toEqual(result);
    expect(QuarantinePlanSchema.safeParse({ ...result, caseId: "" }).success).toBe(false);
    expect(QuarantinePlanSchema.safeParse({ ...result, instanceIds: [] }).success).toBe(false);
    expect(
      QuarantinePlanSchema.safeParse({ ...result, group: { ...result.group, raiseBy: -1 } }).success,
    ).toBe(false);
  });
});

describe("the evidence manifest", () => {
  it("serializes the same whatever the order of keys, dropping what is undefined", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined, e: "x" }], c: null })).toBe(
      '{"a":[{"d":2,"e":"x"}],"b":1,"c":null}',
    );
    expect(canonicalJson({ B: 1, a: 2, A: 3 })).toBe('{"A":3,"B":1,"a":2}');
    expect(canonicalJson("x")).toBe('"x"');
  });

  it("has a SHA-256 digest anyone can check, that changes with any field", () => {
    const manifest: EvidenceManifest = {
      caseId: "IR-1",
      actor: "soc",
      reason: "r",
      instance: suspect(1),
      containment: {
        steps: [],
        previousGroups: { "eni-1": ["sg-app"] },
        publicAddressesRemoved: [],
        detachedElasticIps: [],
        stillOpen: [],
        residual: [],
      },
      credentials: { revoked: [], notRevoked: [] },
      preservation: { applied: [], limitations: [] },
      evidence: {
        method: "CreateSnapshots (one set)",
        crashConsistent: true,
        snapshots: [{ snapshotId: "snap-1", volumeId: "vol-1", state: "completed" }],
        keys: [],
      },
      notPreserved: [],
      replacement: { instanceIds: [], validated: false, reasons: [] },
      timeline: [],
    };
    const digest = manifestDigest(manifest);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(manifestDigest(structuredClone(manifest))).toBe(digest);
    expect(manifestDigest({ ...manifest, reason: "s" })).not.toBe(digest);
  });
});
