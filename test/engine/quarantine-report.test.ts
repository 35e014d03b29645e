// The end of a quarantine as data: what is still open (from each suspect as AWS describes it now), what was
// not done, the replacement's verdict, the timeline, and one suspect's manifest.
import { describe, expect, it } from "vitest";
import type { QuarantinePlan, SuspectInstance } from "../../functions/engine/quarantine";
import {
  manifestOf,
  notDoneOf,
  openPaths,
  type QuarantineOutcome,
  replacementVerdict,
  timelineOf,
} from "../../functions/engine/quarantine-report";
import { policy, target } from "../fixtures";

const suspect: SuspectInstance = {
  instanceId: "i-0000000000000000a",
  state: "running",
  imageId: "ami-0c1d2e3f4a5b60001",
  instanceType: "t4g.small",
  launchTime: "2026-11-20T09:00:00.000Z",
  availabilityZone: "us-east-1a",
  vpcId: "vpc-1",
  subnetId: "subnet-1",
  tags: {},
  networkInterfaces: [{ networkInterfaceId: "eni-1", groups: ["sg-app"] }],
  iamInstanceProfile: { arn: "arn:aws:iam::123456789012:instance-profile/web", associationId: "iip-1" },
  elasticIps: [{ allocationId: "eipalloc-1", associationId: "eipassoc-1", publicIp: "198.51.100.23" }],
  volumes: [{ volumeId: "vol-1", deviceName: "/dev/xvda", deleteOnTermination: true, sizeGiB: 8 }],
  groupName: "web-prod",
};

const plan = (group = true): QuarantinePlan => ({
  caseId: "IR-7",
  reason: "beaconing",
  requestedBy: "soc",
  requestedAt: "2026-11-23T09:00:00.000Z",
  instanceIds: [suspect.instanceId],
  instances: [suspect],
  options: { networkAcl: "off", revokeCredentials: true },
  ...(group
    ? {
        group: {
          groupName: "web-prod",
          desiredCapacity: 4,
          minSize: 4,
          maxSize: 4,
          floor: 4,
          healthyOthers: 3,
          raiseBy: 1,
          targetGroupArns: [],
          drainSeconds: 30,
          suspendedBefore: [],
          target,
          policy: policy(),
        },
      }
    : {}),
});

const isolated = {
  at: "2026-11-23T09:00:05.000Z",
  groups: { "vpc-1": { untrackGroupId: "sg-untrack", isolationGroupId: "sg-isolation" } },
  actions: [
    {
      instanceId: suspect.instanceId,
      steps: ["Elastic IP 198.51.100.23 disassociated"],
      publicAddressesRemoved: ["198.51.100.23"],
    },
  ],
};

const containedNow: SuspectInstance = {
  ...suspect,
  networkInterfaces: [{ networkInterfaceId: "eni-1", groups: ["sg-isolation"] }],
  iamInstanceProfile: undefined,
  elasticIps: [{ allocationId: "eipalloc-1", publicIp: "198.51.100.23" }],
};

describe("the end of a quarantine", () => {
  it("finds nothing open on a contained suspect, and a path for each thing still open on one that is not", () => {
    const outcome: QuarantineOutcome = { plan: plan(), isolated };
    expect(openPaths(outcome, new Map([[suspect.instanceId, containedNow]])).get(suspect.instanceId)).toEqual(
      [],
    );
    const open = openPaths(outcome, new Map([[suspect.instanceId, suspect]])).get(suspect.instanceId);
    expect(open).toEqual([
      "eni-1 is in sg-app, not the isolation group alone",
      "Elastic IP 198.51.100.23 is still associated",
      `instance profile ${suspect.iamInstanceProfile?.arn} is still associated: the instance can get new credentials`,
    ]);
    // A terminated suspect (disposed of) has nothing open.
    const gone = new Map([[suspect.instanceId, { ...suspect, state: "terminated" }]]);
    expect(openPaths(outcome, gone).get(suspect.instanceId)).toEqual([]);
  });

  it("names everything not done: a stop, credentials, preservation, snapshots, what is still open", () => {
    const outcome: QuarantineOutcome = {
      plan: plan(),
      failure: { Error: "States.Timeout", Cause: "slow" },
      revoked: { revoked: [], notRevoked: [{ instanceId: suspect.instanceId, reason: "role not managed" }] },
      preserveFailure: { Error: "PreserveRefusedError", Cause: "no" },
      evidence: {
        snapshots: [],
        states: [],
        methods: [],
        keys: [],
        failed: ["snap-1 of vol-1: error"],
        completed: false,
      },
    };
    expect(notDoneOf(outcome, new Map([[suspect.instanceId, ["eni-1 has public IPv4 54.1.2.3"]]]))).toEqual([
      "stopped: States.Timeout: slow",
      `${suspect.instanceId}: credentials not revoked: role not managed`,
      "preservation failed: PreserveRefusedError: no",
      "snapshot snap-1 of vol-1: error",
      `${suspect.instanceId}: still open: eni-1 has public IPv4 54.1.2.3`,
    ]);
    expect(notDoneOf({ plan: plan() }, new Map())).toEqual([]);
  });

  it("validates the replacement only when it was ready and its probes passed; a standalone suspect has none", () => {
    expect(replacementVerdict({ plan: plan(false) })).toEqual({ validated: null, reasons: [] });
    expect(replacementVerdict({ plan: plan() })).toEqual({
      validated: false,
      reasons: ["replacement not checked"],
    });
    const ready = { ready: true, newInstanceIds: ["i-0000000000000000b"], waiting: [], checkedAt: "t" };
    const passed = { passed: true, reasons: [], probedAt: "t" };
    expect(
      replacementVerdict({ plan: plan(), collected: [{}, { readiness: ready, verdict: passed }] }),
    ).toEqual({
      validated: true,
      reasons: [],
    });
    const late = { ...ready, ready: false, waiting: ["i-0000000000000000b: not healthy"] };
    expect(replacementVerdict({ plan: plan(), collected: [{}, { readiness: late }] }).reasons).toEqual([
      "replacement not ready before the timeout: i-0000000000000000b: not healthy",
    ]);
    expect(
      replacementVerdict({ plan: plan(), collected: [{}, { replacementNotNeeded: true }] }).validated,
    ).toBe(true);
  });

  it("tells the timeline from each step's own time, ending failed when anything was not done", () => {
    const outcome: QuarantineOutcome = { plan: plan(), isolated };
    const steps = (notDone: string[]) =>
      timelineOf(outcome, "2026-11-23T09:05:00.000Z", notDone).map((entry) => entry.step);
    expect(steps([])).toEqual(["requested", "contained", "reported"]);
    expect(steps(["stopped: x"])).toEqual(["requested", "contained", "failed", "reported"]);
  });

  it("writes each suspect's manifest: containment, credentials, evidence, and what was not preserved", () => {
    const outcome: QuarantineOutcome = {
      plan: plan(),
      isolated,
      revoked: {
        at: "t",
        revoked: [
          {
            instanceId: suspect.instanceId,
            roleName: "web",
            policyName: "phoenix-quarantine-x",
            issuedBefore: "t",
          },
        ],
        notRevoked: [],
      },
      evidence: {
        snapshots: [{ snapshotId: "snap-1", volumeId: "vol-1", instanceId: suspect.instanceId }],
        states: [{ snapshotId: "snap-1", state: "completed" }],
        methods: [{ instanceId: suspect.instanceId, crashConsistent: true }],
        keys: [],
        failed: [],
        completed: true,
      },
    };
    const manifest = manifestOf({
      outcome,
      instance: suspect,
      current: containedNow,
      open: [],
      replacement: { validated: true, reasons: [] },
      timeline: [],
    });
    expect(manifest.containment).toMatchObject({
      isolationGroupId: "sg-isolation",
      detachedElasticIps: ["198.51.100.23"],
      previousInstanceProfile: suspect.iamInstanceProfile?.arn,
      instanceProfileNow: "none",
      stillOpen: [],
    });
    expect(manifest.credentials.revoked).toEqual([
      { roleName: "web", policyName: "phoenix-quarantine-x", issuedBefore: "t" },
    ]);
    expect(manifest.evidence).toMatchObject({ method: "CreateSnapshots (one set)", crashConsistent: true });
    expect(manifest.evidence.snapshots).toEqual([
      {
        snapshotId: "snap-1",
        volumeId: "vol-1",
        deviceName: undefined,
        state: "completed",
        kmsKeyId: undefined,
      },
    ]);
    expect(manifest.notPreserved.some((item) => item.startsWith("memory"))).toBe(true);
    expect(manifest.notPreserved.some((item) => item.includes("vol-1"))).toBe(false);
  });
});
