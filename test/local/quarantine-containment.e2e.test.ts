// Quarantine that holds, on the simulator through the real state machine and handlers: once the first
// containment step has run, the suspect is never reachable again, whatever step fails after it; a failed
// containment is put back rather than left open, and said loudly. Reachability is read from the simulated
// account (security groups on its interfaces, public addresses, open flows, its instance profile), never
// from what Phoenix reports.
import { afterEach, describe, expect, it } from "vitest";
import type { EvidenceManifest } from "../../functions/engine/quarantine-manifest";
import { loadScenario, type Scenario } from "../../local/scenario";
import { credentialHonoured, lastCredentialBeforeRemoval } from "../../local/sim/credentials";
import type { SimInstance } from "../../local/sim/model";
import { Simulation } from "../../local/simulation";
import type { ExecutionOutcome } from "../../local/state-machine";

let simulation: Simulation | undefined;
afterEach(async () => {
  await simulation?.close();
  simulation = undefined;
});

interface Report {
  failed: boolean;
  contained: boolean;
  stillOpen: Record<string, string[]>;
  cause: string;
  manifests: { instanceId: string; manifest: EvidenceManifest }[];
}

async function account(name = "quarantine", edit: (scenario: Scenario) => void = () => {}) {
  const scenario = loadScenario(name);
  edit(scenario);
  simulation = await Simulation.fromScenario(scenario);
  const groupName = scenario.groups[0]?.name as string;
  const suspect = simulation.world.requireGroup(groupName).instanceIds[0] as string;
  return { sim: simulation, world: simulation.world, suspect, scenario };
}

/**
 * Watches the account from the moment the first containment step (Isolate) returned: from then on, every
 * change must leave the suspect with no interface in a group that allows anything, no public address, no
 * open flow except those AWS documents no security group can end, and not its old instance profile. At any
 * moment, an interface in a group that lets all traffic in must have no public address.
 */
function watch(sim: Simulation, suspectId: string) {
  const { world } = sim;
  const violations: string[] = [];
  const instance = world.requireInstance(suspectId);
  const profile = instance.iamInstanceProfile?.arn;
  let contained = false;
  const openInbound = (inst: SimInstance) =>
    inst.networkInterfaces.filter(
      (eni) =>
        (eni.publicIp || eni.association) &&
        eni.groups.some((id) =>
          world.securityGroups
            .get(id)
            ?.ingress.some((rule) => rule.protocol === "-1" && /^(0\.0\.0\.0|::)\/0$/.test(rule.cidr)),
        ),
    );
  const check = () => {
    const at = new Date(world.clock.now()).toISOString();
    for (const eni of openInbound(instance))
      violations.push(`${at}: ${eni.networkInterfaceId} allows all traffic in while it has a public address`);
    if (!contained) return;
    const open = world
      .openPaths(instance)
      .filter((item) => !item.residual && !item.path.startsWith("instance profile"));
    if (open.length > 0)
      violations.push(`${at}: reachable after containment: ${open.map((item) => item.path).join("; ")}`);
    if (profile && instance.iamInstanceProfile?.arn === profile)
      violations.push(`${at}: still holds ${profile} after containment`);
  };
  world.onChange(check);
  const previous = sim.interceptTask;
  sim.interceptTask = async (task, call) => {
    const result = await (previous ? previous(task, call) : call());
    if (task.functionKey === "isolateInstances") {
      contained = true;
      check();
    }
    return result;
  };
  return { violations, containedOnce: () => contained };
}

const quarantine = (sim: Simulation, instanceIds: string[]) =>
  sim.run("quarantine-instance", { instanceIds, reason: "C2 beacon", caseId: "IR-9", requestedBy: "alice" });

const reportOf = (outcome: ExecutionOutcome) => outcome.output as Report | undefined;

/** Makes the Task of `stateName` crash (not retried: the state machine catches it). */
function crash(sim: Simulation, stateName: string) {
  sim.interceptTask = async (task, call) => {
    if (task.stateName === stateName)
      throw Object.assign(new Error(`${stateName} crashed`), { name: "Runtime.ExitError" });
    return call();
  };
}

describe("once contained, never reachable again, whatever fails after", () => {
  it.each([
    "RevokeCredentials",
    "Preserve",
    "StartSnapshots",
    "Detach",
    "CheckDetached",
    "CheckSnapshots",
    "CheckReplacement",
    "ProbeReplacement",
  ])(
    "a crash of %s ends Quarantine Failed, naming it, with the suspect still contained",
    async (stateName) => {
      const { sim, world, suspect } = await account();
      crash(sim, stateName);
      const watcher = watch(sim, suspect);
      const outcome = await quarantine(sim, [suspect]);
      world.clock.advanceBy(900_000);
      expect(watcher.containedOnce()).toBe(true);
      expect(watcher.violations).toEqual([]);
      expect(outcome).toMatchObject({ status: "FAILED", error: "QuarantineIncomplete" });
      expect(outcome.cause).toMatch(/the network containment holds/);
      expect(outcome.cause).toMatch(/crashed/);
      const failed = world.events.find((event) => event.detailType === "Quarantine Failed");
      expect(failed?.detail).toMatchObject({ caseId: "IR-9", stillOpen: {} });
      // The evidence is not destroyed either.
      expect(world.requireInstance(suspect).state).toBe("running");
    },
  );

  it("a crash of the report itself fails the execution, and the suspect stays contained", async () => {
    const { sim, world, suspect } = await account();
    crash(sim, "Report");
    const watcher = watch(sim, suspect);
    const outcome = await quarantine(sim, [suspect]);
    world.clock.advanceBy(900_000);
    expect(outcome).toMatchObject({ status: "FAILED", error: "QuarantineReportFailed" });
    expect(watcher.violations).toEqual([]);
  });

  it.each([
    ["iam:PutRolePolicy", "AccessDenied", /credentials not revoked/],
    ["ec2:ModifyInstanceAttribute", "UnauthorizedOperation", /preservation failed/],
    ["autoscaling:DetachInstances", "AccessDenied", /stopped: /],
  ])(
    "AWS refusing %s (%s) is said, and changes nothing of the containment",
    async (operation, code, said) => {
      const { sim, world, suspect } = await account();
      world.faults.refusals.set(operation, { code, message: `${code} by test`, times: 10 });
      const watcher = watch(sim, suspect);
      const outcome = await quarantine(sim, [suspect]);
      world.clock.advanceBy(900_000);
      expect(watcher.violations).toEqual([]);
      expect(outcome).toMatchObject({ status: "FAILED", error: "QuarantineIncomplete" });
      expect(outcome.cause).toMatch(said);
      expect(outcome.cause).toMatch(/the network containment holds/);
    },
  );

  it("a preservation failure still takes the evidence and the suspect out of its group", async () => {
    const { sim, world, suspect } = await account();
    world.faults.refusals.set("ec2:ModifyInstanceAttribute", {
      code: "UnauthorizedOperation",
      message: "no",
      times: 10,
    });
    await quarantine(sim, [suspect]);
    expect([...world.snapshots.values()].map((snapshot) => snapshot.volumeId)).toEqual(
      world.requireInstance(suspect).volumes.map((volume) => volume.volumeId),
    );
    expect(world.requireInstance(suspect).groupName).toBeUndefined();
  });
});

describe("a containment that cannot finish is put back, not left open", () => {
  it("the isolation group refused: the interface leaves the all-traffic group again, and Quarantine Failed says what is open", async () => {
    const { sim, world, suspect } = await account();
    const instance = world.requireInstance(suspect);
    const original = [...(instance.networkInterfaces[0]?.groups ?? [])];
    const isolating = (input: unknown) => {
      const groups = (input as { Groups?: string[] }).Groups;
      return (
        groups?.length === 1 &&
        world.securityGroups.get(groups[0] as string)?.groupName === "phoenix-isolation"
      );
    };
    world.faults.refusals.set("ec2:ModifyNetworkInterfaceAttribute", {
      code: "UnauthorizedOperation",
      message: "not allowed",
      times: 100,
      when: isolating,
    });
    const watcher = watch(sim, suspect);
    const outcome = await quarantine(sim, [suspect]);
    expect(watcher.violations).toEqual([]);
    expect(instance.networkInterfaces[0]?.groups).toEqual(original);
    expect(outcome).toMatchObject({ status: "FAILED", error: "QuarantineIncomplete" });
    expect(outcome.cause).toMatch(/NOT CONTAINED/);
    const failed = world.events.find((event) => event.detailType === "Quarantine Failed")?.detail as {
      stillOpen: Record<string, string[]>;
    };
    expect(failed.stillOpen[suspect]?.join("\n")).toMatch(/not the isolation group alone/);
    // Nothing public was left on it while all traffic was allowed, and the address stays off.
    expect(instance.networkInterfaces[0]?.association).toBeUndefined();
  });

  it("the isolation group throttled once: put back, retried, contained", async () => {
    const { sim, world, suspect } = await account();
    world.faults.refusals.set("ec2:ModifyNetworkInterfaceAttribute", {
      code: "RequestLimitExceeded",
      message: "Rate exceeded",
      times: 1,
      when: (input) => {
        const groups = (input as { Groups?: string[] }).Groups;
        return (
          groups?.length === 1 &&
          world.securityGroups.get(groups[0] as string)?.groupName === "phoenix-isolation"
        );
      },
    });
    const watcher = watch(sim, suspect);
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(watcher.violations).toEqual([]);
    const changes = world.log
      .filter((entry) => entry.kind === "security-groups-changed" && entry.instanceId === suspect)
      .map((entry) => entry.message.split(" now in ")[1]);
    expect(changes).toEqual([
      "phoenix-isolation-untrack",
      "web",
      "phoenix-isolation-untrack",
      "phoenix-isolation",
    ]);
  });
});

describe("what AWS refuses for an instance's kind is a limitation, not a failure", () => {
  it("a Spot suspect: no termination protection, recorded; the quarantine succeeds", async () => {
    const { sim, world, suspect } = await account("quarantine-spot");
    const watcher = watch(sim, suspect);
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(watcher.violations).toEqual([]);
    const manifest = reportOf(outcome)?.manifests[0]?.manifest as EvidenceManifest;
    expect(manifest.preservation.limitations).toEqual([
      { action: "termination protection on", reason: expect.stringMatching(/Spot/) },
    ]);
    expect(world.requireInstance(suspect).disableApiTermination).toBe(false);
    expect(sim.journal.some((call) => call.error === "UnsupportedOperation")).toBe(false);
  });

  it("an instance-store root: no stop on shutdown, recorded; the instance store is listed as not preserved", async () => {
    const { sim, suspect } = await account("quarantine", (scenario) => {
      const cohort = scenario.groups[0]?.instances[0] as Scenario["groups"][number]["instances"][number];
      cohort.rootDeviceType = "instance-store";
      cohort.dataVolumes = [{ deviceName: "/dev/sdf", sizeGiB: 50 }];
      (scenario.launchTemplates[0] as Scenario["launchTemplates"][number]).instanceType = "m1.small";
    });
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome.status).toBe("SUCCEEDED");
    const manifest = reportOf(outcome)?.manifests[0]?.manifest as EvidenceManifest;
    expect(manifest.preservation.limitations.map((item) => item.action)).toEqual([
      "a shutdown from inside stops the instance instead of terminating it",
    ]);
    expect(manifest.notPreserved.join("\n")).toMatch(
      /instance store \(160 GB on m1\.small\), the root device included/,
    );
    expect(manifest.evidence.snapshots.map((snapshot) => snapshot.deviceName)).toEqual(["/dev/sdf"]);
  });

  it("a refusal AWS gives for the kind that Phoenix did not foresee is recorded too", async () => {
    const { sim, world, suspect } = await account();
    world.faults.refusals.set("ec2:ModifyInstanceAttribute", {
      code: "UnsupportedOperation",
      message: "not for this one",
      times: 1,
      when: (input) => (input as { DisableApiTermination?: unknown }).DisableApiTermination !== undefined,
    });
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(reportOf(outcome)?.manifests[0]?.manifest.preservation.limitations[0]?.reason).toMatch(
      /AWS refused it/,
    );
  });
});

describe("network containment", () => {
  it("multi-volume, CMK-encrypted, Elastic IP and IPv6: both C2 sessions end; the flows no group can end are the only ones left", async () => {
    const { sim, world, suspect } = await account("quarantine-multi-volume");
    const watcher = watch(sim, suspect);
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(watcher.violations).toEqual([]);
    const open = world.requireInstance(suspect).connections.filter((connection) => connection.open);
    expect(open.map((connection) => connection.peer)).toEqual(["10.0.9.9:41000", "198.51.100.99:0"]);
    expect(world.openPaths(world.requireInstance(suspect)).every((item) => item.residual)).toBe(true);
    // Its interface now idles tracked flows out after a minute, not five days.
    expect(
      world.requireInstance(suspect).networkInterfaces[0]?.connectionTracking.tcpEstablishedTimeout,
    ).toBe(60);
  });

  it("network ACL mode cuts an opted-in subnet at once, automatically tracked flows included, and says who else it cut", async () => {
    const { sim, world, suspect } = await account("quarantine-multi-volume", (scenario) => {
      scenario.settings.PHOENIX_ISOLATION_NETWORK_ACL = "tagged-subnets";
      scenario.subnets = [{ zone: "us-east-1a", tags: { "phoenix:isolation-nacl": "allowed" } }];
    });
    const instance = world.requireInstance(suspect);
    const neighbours = world
      .requireGroup("web-prod")
      .instanceIds.filter((id) => id !== suspect && world.instances.get(id)?.subnetId === instance.subnetId);
    expect(neighbours.length).toBeGreaterThan(0);
    await quarantine(sim, [suspect]);
    expect(instance.connections.filter((connection) => connection.open)).toEqual([]);
    // (The replacement may land in the cut subnet too, so the execution may end ReplacementNotValidated.)
    const completed = world.events.find((event) => event.detailType === "Quarantine Completed")
      ?.detail as Report;
    const manifest = completed.manifests[0]?.manifest as EvidenceManifest;
    expect(manifest.containment.networkAcl?.note).toMatch(/cut off too/);
    for (const id of neighbours) expect(manifest.containment.networkAcl?.note).toContain(id);
    // Release puts the subnet back on its network ACL.
    await sim.invoke("releaseQuarantine", { instanceId: suspect });
    expect(world.subnets.get(instance.subnetId)?.networkAclAssociation.networkAclId).toBe(
      world.defaultNetworkAcl().networkAclId,
    );
  });

  it("network ACL mode leaves a subnet that did not opt in alone, and says so", async () => {
    const { sim, world, suspect } = await account("quarantine", (scenario) => {
      scenario.settings.PHOENIX_ISOLATION_NETWORK_ACL = "tagged-subnets";
    });
    const outcome = await quarantine(sim, [suspect]);
    expect(sim.journal.some((call) => call.operation === "ec2:ReplaceNetworkAclAssociation")).toBe(false);
    expect(reportOf(outcome)?.manifests[0]?.manifest.containment.networkAcl?.note).toMatch(/not tagged/);
    expect([...world.networkAcls.values()].filter((acl) => acl.tags.has("phoenix:isolation"))).toEqual([]);
  });

  it("isolation groups that EC2 makes visible only after a while: retried until seen, nothing changes on the instance before", async () => {
    const { sim, world, suspect } = await account("quarantine-eventual-consistency");
    const watcher = watch(sim, suspect);
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(watcher.violations).toEqual([]);
    expect(sim.journal.some((call) => call.error === "InvalidGroup.NotFound")).toBe(true);
    // The quarantine tags go on first (they keep rollouts off the suspect); no network change before the groups.
    const firstInstanceChange = sim.journal.findIndex(
      (call) =>
        call.mutating &&
        call.operation !== "ec2:CreateSecurityGroup" &&
        call.operation !== "ec2:CreateTags" &&
        call.operation.startsWith("ec2:") &&
        !/SecurityGroup/.test(call.operation),
    );
    const lastGroupCall = sim.journal.map((call) => /SecurityGroup/.test(call.operation)).lastIndexOf(true);
    expect(firstInstanceChange).toBeGreaterThan(lastGroupCall);
    // The half-made group was repaired to no rule at all; the new one has exactly its four.
    const groups = [...world.securityGroups.values()].filter((group) => group.tags.get("phoenix:isolation"));
    expect(
      Object.fromEntries(
        groups.map((group) => [group.groupName, [group.ingress.length, group.egress.length]]),
      ),
    ).toEqual({
      "phoenix-isolation": [0, 0],
      "phoenix-isolation-untrack": [2, 2],
    });
  });
});

describe("credentials already issued", () => {
  it("are denied to the suspect only, from the moment of containment; release lifts the deny", async () => {
    const { sim, world, suspect } = await account();
    const neighbour = world.requireInstance(world.requireGroup("web-prod").instanceIds[1] as string);
    await quarantine(sim, [suspect]);
    const stolen = lastCredentialBeforeRemoval(world, world.requireInstance(suspect));
    if (!stolen) throw new Error("the suspect had credentials");
    expect(await credentialHonoured(world, stolen, world.clock.now())).toMatchObject({ honoured: false });
    const theirs = lastCredentialBeforeRemoval(world, neighbour);
    if (!theirs) throw new Error("the neighbour has credentials");
    expect(await credentialHonoured(world, theirs, world.clock.now())).toMatchObject({ honoured: true });
    await sim.invoke("releaseQuarantine", { instanceId: suspect });
    expect(world.roles.get("web-app")?.inlinePolicies.size).toBe(0);
  });

  it("revocation off (param revokeCredentials=false): the manifest says they were not revoked", async () => {
    const { sim, suspect } = await account("quarantine", (scenario) => {
      scenario.settings.PHOENIX_REVOKE_CREDENTIALS = "false";
    });
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(reportOf(outcome)?.manifests[0]?.manifest.credentials.notRevoked[0]).toMatch(/revokeCredentials/);
  });
});

describe("evidence", () => {
  it("falls back to one snapshot per volume only where AWS refuses the crash-consistent set, and says so", async () => {
    const { sim, world, suspect } = await account("quarantine-multi-volume");
    world.faults.refusals.set("ec2:CreateSnapshots", {
      code: "InvalidParameterValue",
      message: "refused by test",
      times: 1,
    });
    const outcome = await quarantine(sim, [suspect]);
    const manifest = reportOf(outcome)?.manifests[0]?.manifest as EvidenceManifest;
    expect(manifest.evidence).toMatchObject({
      crashConsistent: false,
      method: "CreateSnapshot, one per volume",
    });
    expect(manifest.evidence.note).toMatch(/refused by test/);
    expect(manifest.evidence.snapshots).toHaveLength(3);
    expect(new Set([...world.snapshots.values()].map((snapshot) => snapshot.snapshotSet))).toEqual(
      new Set([undefined]),
    );
  });

  it("one crash-consistent set otherwise, with each volume's key and whether it can still be read", async () => {
    const { sim, world, suspect } = await account("quarantine-multi-volume");
    const outcome = await quarantine(sim, [suspect]);
    const manifest = reportOf(outcome)?.manifests[0]?.manifest as EvidenceManifest;
    expect(new Set([...world.snapshots.values()].map((snapshot) => snapshot.snapshotSet)).size).toBe(1);
    expect(manifest.evidence.keys.map((key) => [key.state, key.usable, key.volumes.length])).toEqual([
      ["Enabled", true, 2],
      ["PendingDeletion", false, 1],
    ]);
    expect(manifest.notPreserved.join("\n")).toMatch(/PendingDeletion .*cancel its deletion/);
  });
});

describe("a suspect in Standby", () => {
  it("leaves its group without a decrement, so the group terminates no healthy instance for it", async () => {
    const { sim, world, suspect } = await account();
    // As EnterStandby with a decrement leaves it: out of service, not counted in desired capacity.
    const group = world.requireGroup("web-prod");
    const instance = world.requireInstance(suspect);
    instance.lifecycleState = "Standby";
    group.desiredCapacity -= 1;
    group.minSize -= 1;
    for (const targetGroup of world.targetGroups.values()) targetGroup.targets.delete(suspect);
    const outcome = await quarantine(sim, [suspect]);
    world.clock.advanceBy(600_000);
    expect(outcome.cause ?? "").toBe("");
    expect(outcome.status).toBe("SUCCEEDED");
    expect(sim.observer.terminations).toEqual([]);
    expect(
      world.log.some(
        (entry) => entry.kind === "instance-detaching" && entry.message.includes("decrementing"),
      ),
    ).toBe(false);
    expect(group.desiredCapacity).toBe(5);
    expect(world.healthyInService("web-prod")).toHaveLength(5);
  });
});
