// The pure decisions of a quarantine: which rules to change so an isolation group has exactly its own, the
// deny that ends a suspect's credentials, what is still open, what each kind of instance cannot be given,
// and what was not preserved.
import { describe, expect, it } from "vitest";
import {
  ISOLATION_GROUP_RULES,
  instanceArn,
  revocationPolicy,
  ruleChanges,
  stillOpen,
} from "../../functions/engine/containment";
import { notPreserved, preserveSteps } from "../../functions/engine/evidence";
import type { SuspectInstance } from "../../functions/engine/quarantine";

const suspect = (change: Partial<SuspectInstance> = {}): SuspectInstance => ({
  instanceId: "i-0123456789abcdef0",
  state: "running",
  imageId: "ami-0123",
  instanceType: "m5d.large",
  launchTime: "2026-11-01T00:00:00Z",
  availabilityZone: "us-east-1a",
  vpcId: "vpc-1",
  subnetId: "subnet-1",
  tags: {},
  networkInterfaces: [{ networkInterfaceId: "eni-1", groups: ["sg-web"], deviceIndex: 0 }],
  elasticIps: [],
  volumes: [{ volumeId: "vol-1", deviceName: "/dev/xvda", deleteOnTermination: true }],
  ...change,
});

describe("isolation group rules", () => {
  it("revokes what a group has beyond its rules and authorizes what it lacks, nothing else", () => {
    const current = [
      { protocol: "-1", cidr: "0.0.0.0/0" },
      { protocol: "tcp", fromPort: 22, toPort: 22, cidr: "sg:sg-admin" },
    ];
    expect(ruleChanges(current, [...ISOLATION_GROUP_RULES.untrack.ingress])).toEqual({
      revoke: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidr: "sg:sg-admin" }],
      authorize: [{ protocol: "-1", cidr: "::/0" }],
    });
    expect(ruleChanges(current, [])).toEqual({ revoke: current, authorize: [] });
    expect(
      ruleChanges([...ISOLATION_GROUP_RULES.untrack.egress], [...ISOLATION_GROUP_RULES.untrack.egress]),
    ).toEqual({
      revoke: [],
      authorize: [],
    });
  });
});

describe("credential revocation", () => {
  it("denies everything to this instance's sessions issued before the moment, in the profile's partition and account", () => {
    const arn = instanceArn("arn:aws-cn:iam::210987654321:instance-profile/web", "cn-north-1", "i-0abc");
    expect(arn).toBe("arn:aws-cn:ec2:cn-north-1:210987654321:instance/i-0abc");
    expect(JSON.parse(revocationPolicy(arn, new Date("2026-11-23T09:00:03.330Z")))).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "PhoenixQuarantineRevokeSessions",
          Effect: "Deny",
          Action: "*",
          Resource: "*",
          Condition: {
            StringEquals: { "ec2:SourceInstanceARN": arn },
            DateLessThan: { "aws:TokenIssueTime": "2026-11-23T09:00:03.330Z" },
          },
        },
      ],
    });
  });
});

describe("what is still open", () => {
  it("an interface not in the isolation group alone, a public address, an Elastic IP, the old profile", () => {
    const isolation = new Set(["sg-iso"]);
    expect(
      stillOpen(
        suspect({
          networkInterfaces: [
            { networkInterfaceId: "eni-1", groups: ["sg-iso"] },
            { networkInterfaceId: "eni-2", groups: ["sg-iso", "sg-web"], publicIp: "54.1.2.3" },
          ],
          elasticIps: [{ allocationId: "eipalloc-1", associationId: "eipassoc-1", publicIp: "198.51.100.1" }],
          iamInstanceProfile: { arn: "arn:aws:iam::1:instance-profile/web" },
        }),
        isolation,
        "arn:aws:iam::1:instance-profile/web",
      ),
    ).toEqual([
      "eni-2 is in sg-iso, sg-web, not the isolation group alone",
      "eni-2 has public IPv4 54.1.2.3",
      "Elastic IP 198.51.100.1 is still associated",
      "instance profile arn:aws:iam::1:instance-profile/web is still associated: the instance can get new credentials",
    ]);
    expect(
      stillOpen(
        suspect({ networkInterfaces: [{ networkInterfaceId: "eni-1", groups: ["sg-iso"] }] }),
        isolation,
      ),
    ).toEqual([]);
  });
});

describe("preservation by kind of instance", () => {
  it("knows termination protection is impossible on Spot and a stop on shutdown on an instance-store root", () => {
    expect(preserveSteps(suspect()).map((step) => [step.action, step.impossible === undefined])).toEqual([
      ["termination-protection", true],
      ["shutdown-stops", true],
      ["keep-volumes", true],
    ]);
    const spotStore = preserveSteps(
      suspect({ instanceLifecycle: "spot", rootDeviceType: "instance-store", volumes: [] }),
    );
    expect(spotStore.map((step) => step.action)).toEqual(["termination-protection", "shutdown-stops"]);
    expect(spotStore[0]?.impossible).toMatch(/Spot/);
    expect(spotStore[1]?.impossible).toMatch(/instance-store root cannot be stopped/);
  });

  it("lists memory always, the instance store, volumes without a snapshot and evidence whose key cannot be used", () => {
    const missing = notPreserved(
      suspect({
        instanceStoreGiB: 75,
        volumes: [
          { volumeId: "vol-1", deviceName: "/dev/xvda", deleteOnTermination: true },
          { volumeId: "vol-2", deviceName: "/dev/sdf", deleteOnTermination: true, kmsKeyId: "k-2" },
        ],
      }),
      {
        snapshotVolumes: ["vol-2"],
        keys: [{ keyId: "k-2", state: "Disabled", usable: false, volumes: ["vol-2"] }],
      },
    );
    expect(missing).toEqual([
      expect.stringMatching(/^memory: /),
      "instance store (75 GB on m5d.large): no EBS snapshot can hold it, and its data is lost when the instance stops or terminates",
      "vol-1 (/dev/xvda): no snapshot",
      "snapshots of vol-2 are encrypted with KMS key k-2, which is Disabled: they cannot be read until the key is enabled",
    ]);
  });
});
