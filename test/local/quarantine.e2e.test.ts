// Quarantine-and-replace on the simulator, through statemachines/quarantine-instance.asl.json and the real
// handlers: evidence first, connections cut, nothing destroyed, a validated replacement, a manifest that checks.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readQuarantineRecord } from "../../functions/aws/quarantine-records";
import { canonicalJson, type EvidenceManifest } from "../../functions/engine/quarantine-manifest";
import { loadScenario, MANAGED_LAUNCH_TEMPLATE, type Scenario } from "../../local/scenario";
import { Simulation } from "../../local/simulation";
import { PHOENIX_BUS, REPO_ROOT } from "../../local/stack";
import type { ExecutionOutcome } from "../../local/state-machine";

let simulation: Simulation | undefined;
afterEach(async () => {
  await simulation?.close();
  simulation = undefined;
});

interface Report {
  caseId: string;
  failed: boolean;
  replacementValidated: boolean | null;
  cause: string;
  manifests: { instanceId: string; digest: string; manifest: EvidenceManifest }[];
}

async function account(edit: (scenario: Scenario) => void = () => {}) {
  const scenario = loadScenario("quarantine");
  edit(scenario);
  simulation = await Simulation.fromScenario(scenario);
  const suspect = simulation.world.requireGroup("web-prod").instanceIds[0] as string;
  return { sim: simulation, world: simulation.world, suspect };
}

const quarantine = (sim: Simulation, instanceIds: string[], extra: Record<string, unknown> = {}) =>
  sim.run("quarantine-instance", {
    instanceIds,
    reason: "C2 beacon to 203.0.113.66",
    caseId: "IR-7",
    requestedBy: "alice@example.com",
    ...extra,
  });

const reportOf = (outcome: ExecutionOutcome) => outcome.output as Report;

describe("quarantine of a group member", () => {
  it("contains first: the record, the tags and the group's ReplaceUnhealthy paused, no public address, then the two steps, before credentials, preservation, snapshots or detach", async () => {
    const { sim, suspect } = await account();
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome.status).toBe("SUCCEEDED");
    const calls = sim.mutatingCalls();
    const order = calls.map((call) => call.operation.split(":")[1]);
    const first = (operation: string) => order.indexOf(operation);
    const groupsSet = (name: string) =>
      calls.findIndex((call) => {
        const groups = (call.input as { Groups?: string[] }).Groups;
        return groups?.length === 1 && sim.world.securityGroups.get(groups[0] as string)?.groupName === name;
      });
    // The record release needs is written before anything changes.
    expect(order[0]).toBe("PutItem");
    // Claimed and kept from Auto Scaling's health replacement before it is cut off (it then fails its checks).
    expect(first("CreateTags")).toBeLessThan(first("DisassociateAddress"));
    expect(first("SuspendProcesses")).toBeLessThan(first("DisassociateAddress"));
    expect(first("DisassociateAddress")).toBeLessThan(groupsSet("phoenix-isolation-untrack"));
    expect(groupsSet("phoenix-isolation-untrack")).toBeLessThan(groupsSet("phoenix-isolation"));
    expect(groupsSet("phoenix-isolation")).toBeLessThan(first("DisassociateIamInstanceProfile"));
    for (const later of [
      "PutRolePolicy",
      "ModifyInstanceAttribute",
      "SetInstanceProtection",
      "CreateSnapshots",
      "DetachInstances",
    ]) {
      expect(first(later), later).toBeGreaterThan(groupsSet("phoenix-isolation"));
    }
    expect(first("DisassociateIamInstanceProfile")).toBeLessThan(first("PutRolePolicy"));
    expect(first("PutRolePolicy")).toBeLessThan(first("ModifyInstanceAttribute"));
    expect(first("ModifyInstanceAttribute")).toBeLessThan(first("CreateSnapshots"));
    expect(first("CreateSnapshots")).toBeLessThan(first("DetachInstances"));
  });

  it("isolates, keeps the instance running out of the group, and puts a validated replacement in its place", async () => {
    const { sim, world, suspect } = await account();
    const outcome = await quarantine(sim, [suspect]);
    world.clock.advanceBy(600_000);
    const report = reportOf(outcome);
    expect(report).toMatchObject({ caseId: "IR-7", failed: false, replacementValidated: true });
    const instance = world.requireInstance(suspect);
    expect(instance.state).toBe("running");
    expect(instance.groupName).toBeUndefined();
    expect(instance.disableApiTermination).toBe(true);
    expect(instance.shutdownBehavior).toBe("stop");
    expect(instance.volumes.every((volume) => !volume.deleteOnTermination)).toBe(true);
    expect(instance.tags.get("phoenix:quarantined")).toBe("IR-7");
    expect(instance.iamInstanceProfile).toBeUndefined();
    expect(instance.networkInterfaces[0]?.association).toBeUndefined();
    const groups = instance.networkInterfaces[0]?.groups.map((id) => world.securityGroups.get(id));
    expect(groups?.map((group) => group?.groupName)).toEqual(["phoenix-isolation"]);
    expect(groups?.[0]?.ingress).toEqual([]);
    expect(groups?.[0]?.egress).toEqual([]);
    // The group is whole again, on a new instance, and its settings are as they were.
    const group = world.requireGroup("web-prod");
    expect(world.healthyInService("web-prod")).toHaveLength(6);
    expect(group.instanceIds).not.toContain(suspect);
    expect(report.manifests[0]?.manifest.replacement.instanceIds).toHaveLength(1);
    expect(group.instanceIds).toContain(report.manifests[0]?.manifest.replacement.instanceIds[0]);
    expect({
      desired: group.desiredCapacity,
      max: group.maxSize,
      suspended: [...group.suspendedProcesses],
    }).toEqual({ desired: 6, max: 8, suspended: [] });
    expect(world.events.map((event) => event.detailType)).toEqual(["Quarantine Completed"]);
  });

  it("ends open connections only with the two-step isolation", async () => {
    const { sim, world, suspect } = await account();
    const attacker = () =>
      world
        .requireInstance(suspect)
        .connections.find((connection) => connection.peer.startsWith("203.0.113.66"));
    expect(attacker()?.open).toBe(true);
    await quarantine(sim, [suspect]);
    expect(attacker()?.open).toBe(false);
    // Closed when the isolation group went on, right after the all-traffic group.
    const closed = world.log.find(
      (entry) => entry.kind === "connection-closed" && entry.message.includes("203.0.113.66"),
    );
    const isolated = world.log.find(
      (entry) => entry.kind === "security-groups-changed" && entry.message.endsWith("phoenix-isolation"),
    );
    expect(closed?.at).toBe(isolated?.at);
  });

  it("a single swap to the isolation group would leave the session open (the simulator tracks connections)", async () => {
    const { world, suspect } = await account();
    const instance = world.requireInstance(suspect);
    const eni = instance.networkInterfaces[0]?.networkInterfaceId as string;
    const isolation = world.newId("sg");
    world.securityGroups.set(isolation, {
      groupId: isolation,
      groupName: "bare",
      vpcId: world.vpcId,
      description: "",
      ingress: [],
      egress: [],
      tags: new Map(),
    });
    world.setInterfaceGroups(instance, eni, [isolation]);
    expect(instance.connections.every((connection) => connection.open)).toBe(true);
  });

  it("writes a complete manifest whose SHA-256 anyone can check, and stores it with the quarantine record", async () => {
    const { sim, world, suspect } = await account();
    const before = structuredClone(world.requireInstance(suspect).networkInterfaces);
    const report = reportOf(await quarantine(sim, [suspect]));
    const [entry] = report.manifests;
    const manifest = entry?.manifest as EvidenceManifest;
    expect(createHash("sha256").update(canonicalJson(manifest)).digest("hex")).toBe(entry?.digest);
    expect(manifest).toMatchObject({
      caseId: "IR-7",
      actor: "alice@example.com",
      reason: "C2 beacon to 203.0.113.66",
      group: "web-prod",
    });
    expect(manifest.instance).toMatchObject({
      instanceId: suspect,
      imageId: "ami-0c1d2e3f4a5b60002",
      vpcId: world.vpcId,
    });
    expect(manifest.containment.previousGroups).toEqual(
      Object.fromEntries(before.map((eni) => [eni.networkInterfaceId, eni.groups])),
    );
    expect(manifest.containment.previousInstanceProfile).toBe(
      "arn:aws:iam::123456789012:instance-profile/web-app",
    );
    expect(manifest.containment).toMatchObject({
      detachedElasticIps: ["198.51.100.23"],
      publicAddressesRemoved: ["198.51.100.23"],
      instanceProfileNow: "none",
      stillOpen: [],
    });
    expect(manifest.containment.residual.join(" ")).toMatch(/automatically/);
    expect(manifest.credentials).toMatchObject({
      revoked: [{ roleName: "web-app", policyName: `phoenix-quarantine-${suspect}` }],
      notRevoked: [],
    });
    expect(manifest.preservation.limitations).toEqual([]);
    expect(manifest.preservation.applied).toContain("termination protection on");
    expect(manifest.evidence).toMatchObject({ crashConsistent: true, keys: [] });
    expect(manifest.evidence.snapshots).toHaveLength(1);
    expect(manifest.evidence.snapshots[0]?.state).toBe("completed");
    expect(manifest.notPreserved.join("\n")).toMatch(/^memory: /);
    expect(
      world.snapshots.get(manifest.evidence.snapshots[0]?.snapshotId as string)?.tags.get("phoenix:case"),
    ).toBe("IR-7");
    expect(manifest.timeline.map((step) => step.step)).toEqual([
      "requested",
      "contained",
      "credentials revoked",
      "preserved",
      "snapshots started",
      "detaching",
      "detached",
      "snapshots completed",
      "replacement ready",
      "replacement probed",
      "reported",
    ]);
    const stored = await readQuarantineRecord("phoenix-local", suspect);
    expect(stored).toMatchObject({ status: "quarantined", caseId: "IR-7", digest: entry?.digest });
    expect(world.events[0]?.detail).toMatchObject({
      caseId: "IR-7",
      manifests: [{ instanceId: suspect, digest: entry?.digest }],
    });
  });

  it("raises capacity first when detaching would leave the group below its floor", async () => {
    const { sim, world, suspect } = await account();
    const group = world.requireGroup("web-prod");
    const second = group.instanceIds[1] as string;
    await quarantine(sim, [suspect, second]);
    const desiredChanges = world.log
      .filter((entry) => entry.kind === "desired-changed")
      .map((entry) => entry.message);
    expect(desiredChanges[0]).toMatch(/desired capacity 6 -> 8/);
    const detachedWithDecrement = world.log.filter(
      (entry) => entry.kind === "instance-detaching" && entry.message.includes("decrementing"),
    );
    expect(detachedWithDecrement).toHaveLength(2);
    world.clock.advanceBy(600_000);
    expect({ desired: group.desiredCapacity, healthy: world.healthyInService("web-prod").length }).toEqual({
      desired: 6,
      healthy: 6,
    });
  });
});

describe("nothing destroys the evidence", () => {
  it("a replacement of the same group running at the same time skips the quarantined instance and does not block the quarantine", async () => {
    const { sim, world, suspect } = await account();
    const replacement = sim.run("replace-group", {
      groupName: "web-prod",
      reason: "manual",
      policy: { maxSurgePercent: 50, readiness: { pollSeconds: 10 } },
    });
    const quarantined = new Promise<ExecutionOutcome>((resolve) =>
      sim.at(20, async () => resolve(await quarantine(sim, [suspect]))),
    );
    const [rolled, isolated] = await Promise.all([replacement, quarantined]);
    world.clock.advanceBy(600_000);
    expect(isolated.status).toBe("SUCCEEDED");
    expect(rolled.status).toBe("SUCCEEDED");
    expect(world.requireInstance(suspect).state).toBe("running");
    expect(sim.observer.terminations.map((termination) => termination.instanceId)).not.toContain(suspect);
  });

  it("an age sweep never touches it, however old it is", async () => {
    const { sim, world, suspect } = await account((scenario) => {
      (scenario.groups[0] as Scenario["groups"][number]).tags["phoenix:max-age"] = "1d";
    });
    await quarantine(sim, [suspect]);
    await sim.invoke("sweepFleet", sim.scheduledEvent());
    await sim.idle();
    world.clock.advanceBy(3_600_000);
    expect(world.requireInstance(suspect).state).toBe("running");
    expect(sim.observer.terminations.map((termination) => termination.instanceId)).not.toContain(suspect);
    // It would not be terminated even by the API: termination protection is on.
    expect(world.requireInstance(suspect).disableApiTermination).toBe(true);
  });

  it("a failing replacement is reported loudly, and the isolation stays", async () => {
    const { sim, world, suspect } = await account((scenario) => {
      (scenario.images[0] as Scenario["images"][number]).good = false;
      // Existing instances were launched before the image went bad; new ones never answer.
      (scenario.groups[0] as Scenario["groups"][number]).tags["phoenix:policy"] = JSON.stringify({
        readiness: { timeoutSeconds: 120, pollSeconds: 10 },
      });
    });
    for (const id of world.requireGroup("web-prod").instanceIds) world.requireInstance(id).appReadyAt = 0;
    const outcome = await quarantine(sim, [suspect]);
    expect(outcome).toMatchObject({ status: "FAILED", error: "ReplacementNotValidated" });
    expect(outcome.cause).toMatch(
      /quarantined, but the replacement was not validated: replacement not ready/,
    );
    // Phoenix's own events (Step Functions adds its status change for the failed execution).
    expect(
      world.events.filter((event) => event.source !== "aws.states").map((event) => event.detailType),
    ).toEqual(["Quarantine Completed", "Quarantine Replacement Failed"]);
    const instance = world.requireInstance(suspect);
    expect(
      instance.networkInterfaces[0]?.groups.map((id) => world.securityGroups.get(id)?.groupName),
    ).toEqual(["phoenix-isolation"]);
    expect(instance.tags.get("phoenix:quarantined")).toBe("IR-7");
    expect(instance.state).toBe("running");
  });
});

describe("bad requests change nothing", () => {
  it.each([
    [
      { instanceIds: ["i-0123456789abcdef0"] },
      "InstanceNotFoundError",
      /No such running or stopped instance: i-0123456789abcdef0/,
    ],
    [{ instanceIds: ["i-xyz"] }, "InvalidInputError", /instanceIds\[0\]: not an EC2 instance id/],
    [{ reason: undefined }, "InvalidInputError", /request.reason/],
    [{ reason: "x" }, "InvalidInputError", /say why/],
    [{ caseId: "case 7; drop" }, "InvalidInputError", /caseId/],
  ])("%o is refused with %s", async (change, error, cause) => {
    const { sim, suspect } = await account();
    const outcome = await sim.run("quarantine-instance", {
      instanceIds: [suspect],
      reason: "C2 beacon",
      requestedBy: "bob",
      ...change,
    });
    expect(outcome).toMatchObject({ status: "FAILED", error });
    expect(outcome.cause).toMatch(cause);
    expect(sim.mutatingCalls()).toEqual([]);
  });

  it("refuses an instance already under quarantine, and one from another group", async () => {
    const { sim, world, suspect } = await account();
    await quarantine(sim, [suspect]);
    const again = await sim.run("quarantine-instance", {
      instanceIds: [suspect],
      reason: "again",
      requestedBy: "bob",
    });
    expect(again).toMatchObject({ status: "FAILED", error: "AlreadyQuarantinedError" });
    const other = world.addRunningInstance({
      imageId: "ami-0c1d2e3f4a5b60002",
      instanceType: "t4g.small",
      availabilityZone: "us-east-1a",
      launchTime: 0,
    });
    const member = world.requireGroup("web-prod").instanceIds[0] as string;
    const mixed = await sim.run("quarantine-instance", {
      instanceIds: [member, other.instanceId],
      reason: "mixed",
      requestedBy: "bob",
    });
    expect(mixed).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
    expect(mixed.cause).toMatch(/instanceIds: must all be in the same Auto Scaling group/);
  });

  it("a dry run returns the plan and changes nothing", async () => {
    const { sim, suspect } = await account();
    const outcome = await quarantine(sim, [suspect], { dryRun: true });
    expect(outcome.status).toBe("SUCCEEDED");
    expect(outcome.output).toMatchObject({
      caseId: "IR-7",
      instanceIds: [suspect],
      group: { groupName: "web-prod", raiseBy: 1 },
    });
    expect(sim.mutatingCalls()).toEqual([]);
  });
});

describe("a standalone instance", () => {
  const standalone = (world: Simulation["world"], tagged: boolean) => {
    const [appGroup] = [...world.securityGroups.values()];
    return world.addRunningInstance({
      imageId: "ami-0c1d2e3f4a5b60002",
      instanceType: "t4g.small",
      availabilityZone: "us-east-1b",
      launchTime: world.clock.now() - 3_600_000,
      securityGroupIds: [appGroup?.groupId as string],
      // Tagged phoenix:managed (its volume and interface too, as its launch would have), as README asks.
      tagSpecifications: tagged ? MANAGED_LAUNCH_TEMPLATE.tagSpecifications : {},
    });
  };

  it("untagged, is out of Phoenix's reach: IAM refuses the first change and nothing is isolated", async () => {
    const { sim, world } = await account();
    sim.expectDenials = true;
    const lone = standalone(world, false);
    const groupsBefore = [...(lone.networkInterfaces[0]?.groups ?? [])];
    const outcome = await sim.run("quarantine-instance", {
      instanceIds: [lone.instanceId],
      reason: "crypto miner",
    });
    expect(outcome.status).toBe("FAILED");
    expect(sim.iam.denials[0]?.request).toMatchObject({ action: "ec2:CreateTags" });
    expect(world.requireInstance(lone.instanceId).networkInterfaces[0]?.groups).toEqual(groupsBefore);
  });

  it("is preserved, isolated and snapshotted; nothing is replaced", async () => {
    const { sim, world } = await account();
    const lone = standalone(world, true);
    const outcome = await sim.run("quarantine-instance", {
      instanceIds: [lone.instanceId],
      reason: "crypto miner",
      requestedBy: "bob",
    });
    expect(outcome.status).toBe("SUCCEEDED");
    expect(reportOf(outcome)).toMatchObject({ replacementValidated: null, failed: false });
    expect(sim.mutatingCalls().some((call) => call.operation === "autoscaling:DetachInstances")).toBe(false);
    expect(
      world
        .requireInstance(lone.instanceId)
        .networkInterfaces[0]?.groups.map((id) => world.securityGroups.get(id)?.groupName),
    ).toEqual(["phoenix-isolation"]);
  });
});

describe("afterwards", () => {
  it("release restores the recorded security groups, profile, Elastic IP and tags", async () => {
    const { sim, world, suspect } = await account();
    const before = structuredClone(world.requireInstance(suspect).networkInterfaces);
    await quarantine(sim, [suspect]);
    const dry = (await sim.invoke("releaseQuarantine", { instanceId: suspect, dryRun: true })) as {
      actions: string[];
    };
    expect(dry.actions.join("\n")).toMatch(/security groups of eni-.* back to sg-/);
    expect(world.requireInstance(suspect).tags.get("phoenix:quarantined")).toBe("IR-7");
    await sim.invoke("releaseQuarantine", { instanceId: suspect, requestedBy: "alice" });
    const instance = world.requireInstance(suspect);
    expect(instance.networkInterfaces.map((eni) => eni.groups)).toEqual(before.map((eni) => eni.groups));
    expect(instance.networkInterfaces[0]?.association?.publicIp).toBe("198.51.100.23");
    expect(instance.iamInstanceProfile?.arn).toBe("arn:aws:iam::123456789012:instance-profile/web-app");
    expect(instance.tags.has("phoenix:quarantined")).toBe(false);
    expect(instance.tags.get("phoenix:quarantine-released")).toMatch(/^IR-7 /);
    expect((await readQuarantineRecord("phoenix-local", suspect))?.status).toBe("released");
  });

  it("dispose terminates only once the evidence snapshots exist", async () => {
    const { sim, world, suspect } = await account();
    await quarantine(sim, [suspect]);
    const [snapshotId] = [...world.snapshots.keys()];
    const saved = world.snapshots.get(snapshotId as string);
    world.snapshots.delete(snapshotId as string);
    await expect(sim.invoke("disposeQuarantine", { instanceId: suspect })).rejects.toThrow(
      /Refusing to terminate .*: no completed evidence snapshot of vol-/,
    );
    expect(world.requireInstance(suspect).state).toBe("running");
    if (saved) world.snapshots.set(snapshotId as string, saved);
    await sim.invoke("disposeQuarantine", { instanceId: suspect, requestedBy: "alice" });
    world.clock.advanceBy(60_000);
    expect(world.requireInstance(suspect).state).toBe("terminated");
    // The evidence outlives the instance.
    expect(world.snapshots.get(snapshotId as string)?.state).toBe("completed");
    expect((await readQuarantineRecord("phoenix-local", suspect))?.status).toBe("disposed");
  });
});

describe("triggers", () => {
  const sample = (name: string) =>
    JSON.parse(readFileSync(join(REPO_ROOT, "events", "triggers", `${name}.json`), "utf8"));

  it("a Quarantine Requested event starts one quarantine, however often it is delivered", async () => {
    const { sim, suspect } = await account();
    sim.duplicateDeliveries = 2;
    const event = sample("onQuarantineRequested.quarantine-requested");
    event.detail.instanceIds = [suspect];
    sim.putEvent({
      source: event.source,
      detailType: event["detail-type"],
      detail: event.detail,
      eventBusName: PHOENIX_BUS,
    });
    await sim.idle();
    const runs = [...sim.executions.values()].filter((execution) =>
      execution.stateMachineArn.includes("quarantine"),
    );
    expect(runs.map((run) => [run.name, run.status])).toEqual([["quarantine-IR-2026-0117", "SUCCEEDED"]]);
  });

  it("GuardDuty findings are off by default; when invoked, a low-severity finding is ignored", async () => {
    const { sim, suspect } = await account();
    const finding = sample("onQuarantineRequested.guardduty-finding");
    finding.detail.resource.instanceDetails.instanceId = suspect;
    sim.putEvent({ source: finding.source, detailType: finding["detail-type"], detail: finding.detail });
    await sim.idle();
    expect(sim.invocations).toEqual([]);
    finding.detail.severity = 4;
    expect(await sim.invoke("onQuarantineRequested", finding)).toMatchObject({
      status: "ignored",
      reason: "severity 4 below 7",
    });
    finding.detail.severity = 8;
    expect(await sim.invoke("onQuarantineRequested", finding)).toMatchObject({
      status: "started",
      caseId: "guardduty-7ac4f1e2b9d34c5e8f6a1b2c3d4e5f60",
    });
  });
});
