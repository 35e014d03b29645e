// Least privilege, proven on the simulator: every call each function makes is evaluated against its role in
// the packaged template by a real IAM evaluator (local/sim/iam.ts). A tour of every workflow and trigger runs
// with zero denials; every statement of every role is the only one allowing some call of the tour (so
// removing any one makes that call fail, checked with the evaluator); and denials are enforced.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadScenario, runInput, type Scenario } from "../../local/scenario";
import { runScenario } from "../../local/scenario-run";
import { evaluate, type IamDecision, type NamedPolicy } from "../../local/sim/iam";
import { packagedTemplate, type Template } from "../../local/sim/template";
import { type DeployOptions, Simulation } from "../../local/simulation";
import { PHOENIX_BUS, REPO_ROOT } from "../../local/stack";

const sample = (name: string) =>
  JSON.parse(readFileSync(join(REPO_ROOT, "events", "triggers", `${name}.json`), "utf8"));

/** What one run of the tour leaves behind. */
interface Toured {
  name: string;
  decisions: IamDecision[];
  denials: IamDecision[];
  unattributed: number;
  roles: Map<string, { roleArn: string; policies: NamedPolicy[] }>;
  sim: Simulation;
}

/** Runs `act` on a simulated account and keeps its IAM decisions. */
async function tour(
  name: string,
  scenario: Scenario,
  act: (sim: Simulation) => Promise<unknown>,
  options: DeployOptions = {},
): Promise<Toured> {
  const sim = await Simulation.fromScenario(scenario, options);
  sim.expectDenials = true;
  try {
    await act(sim);
    await sim.idle();
  } finally {
    await sim.close();
  }
  return {
    name,
    decisions: sim.iam.decisions,
    denials: sim.iam.denials,
    unattributed: sim.iam.unattributedCalls,
    roles: sim.iam.roles,
    sim,
  };
}

const withProfiles = (scenario: Scenario) => {
  scenario.instanceProfiles.push("phoenix-isolated");
  scenario.settings.PHOENIX_ISOLATION_PROFILE_ARN =
    "arn:aws:iam::123456789012:instance-profile/phoenix-isolated";
  return scenario;
};

/** Every workflow and trigger, once each, including refusals and the janitor. */
const TOUR: [string, () => Scenario, (sim: Simulation) => Promise<unknown>][] = [
  [
    "a replacement",
    () => loadScenario("default"),
    (sim) => runScenario(loadScenario("default"), () => {}, sim),
  ],
  [
    "a rollback",
    () => loadScenario("bad-image"),
    (sim) => runScenario(loadScenario("bad-image"), () => {}, sim),
  ],
  [
    "an image rollout",
    () => loadScenario("image-waves"),
    (sim) => runScenario(loadScenario("image-waves"), () => {}, sim),
  ],
  [
    "a halted image rollout",
    () => loadScenario("image-waves-halt"),
    (sim) => runScenario(loadScenario("image-waves-halt"), () => {}, sim),
  ],
  [
    "the age sweep",
    () => loadScenario("age-sweep"),
    (sim) => runScenario(loadScenario("age-sweep"), () => {}, sim),
  ],
  [
    "the janitor and the sweep finish what stopped replacements left",
    () => loadScenario("default"),
    async (sim) => {
      // Each execution is stopped as soon as its first wave is out of service (its old instances draining).
      sim.onExecutionEvent((event) => {
        if (event.type !== "StateExited" || event.stateName !== "Retire") return;
        const execution = [...sim.executions.values()].find((item) => item.name === event.executionName);
        if (execution) sim.stopExecution(execution.executionArn);
      });
      const input = runInput(loadScenario("default"));
      const { executionArn } = await sim.run("replace-group", input, { executionName: "stopped" });
      await sim.idle();
      // The janitor found them draining; once drained, an operator asks again (phoenix reclaim), and it
      // terminates them.
      sim.world.clock.advanceBy(120_000);
      await sim.invoke("reclaimGroup", { executionArn, groupName: "web-prod", dryRun: true });
      await sim.invoke("reclaimGroup", { executionArn, groupName: "web-prod" });
      // The next stopped execution's drained instances are the sweep's to terminate.
      await sim.run("replace-group", input, { executionName: "stopped-again" });
      await sim.idle();
      sim.world.clock.advanceBy(120_000);
      await sim.invoke("sweepFleet", sim.scheduledEvent());
    },
  ],
  [
    "a replacement whose bake outlasts the drain: each wave terminates the last wave's drained instances",
    () => {
      const scenario = loadScenario("default");
      for (const group of scenario.targetGroups) group.deregistrationDelaySeconds = 120;
      return scenario;
    },
    async (sim) => {
      const input = runInput(loadScenario("default")) as { policy: Record<string, unknown> };
      input.policy.probes = { bakeSeconds: 300 };
      await sim.run("replace-group", input);
    },
  ],
  [
    "image triggers, accepted and refused",
    () => {
      const scenario = loadScenario("image-waves");
      scenario.parameters = [{ name: "/phoenix/golden-ami/web", value: "ami-0c1d2e3f4a5b60002" }];
      scenario.settings = { PHOENIX_SOAK_SECONDS: "0" };
      return scenario;
    },
    async (sim) => {
      const refuseAll = () => {
        const image = sim.world.images.get("ami-0c1d2e3f4a5b60002");
        if (image) image.state = "disabled";
      };
      // Announced by a pipeline on Phoenix's bus and by its golden parameter; deprecated during the soak, so
      // pinning the first group refuses it.
      const published = sample("onImagePublished.image-published");
      sim.putEvent({
        source: published.source,
        detailType: published["detail-type"],
        detail: { ...published.detail, soakSeconds: 600 },
        eventBusName: PHOENIX_BUS,
      });
      await sim.invoke("onGoldenParameterChanged", sample("onGoldenParameterChanged.ssm-golden-ami-updated"));
      const image = sim.world.images.get("ami-0c1d2e3f4a5b60002");
      if (image) image.deprecatedAt = sim.world.clock.now() + 60_000;
      await sim.idle();
      refuseAll();
      for (const name of [
        "onImageBuilt.image-builder-available",
        "onGoldenParameterChanged.ssm-golden-ami-updated",
        "onImagePublished.image-published",
      ]) {
        const event = sample(name);
        event.id = `refused-${name}`;
        await sim.invoke(name.split(".")[0] as string, event);
      }
      const parameter = sample("onGoldenParameterChanged.ssm-golden-ami-updated");
      sim.putEvent({
        source: parameter.source,
        detailType: parameter["detail-type"],
        detail: parameter.detail,
      });
    },
  ],
  [
    "a quarantine requested on the bus, released and disposed of; a refused request",
    () => withProfiles(loadScenario("quarantine")),
    async (sim) => {
      const [first, second, third] = sim.world.requireGroup("web-prod").instanceIds;
      const request = sample("onQuarantineRequested.quarantine-requested");
      sim.putEvent({
        source: request.source,
        detailType: request["detail-type"],
        detail: { ...request.detail, instanceIds: [first, second] },
        eventBusName: PHOENIX_BUS,
      });
      await sim.idle();
      sim.world.clock.advanceBy(3600_000);
      await sim.invoke("releaseQuarantine", { instanceId: first, requestedBy: "alice@example.com" });
      await sim.invoke("disposeQuarantine", { instanceId: second, requestedBy: "alice@example.com" });
      await sim.invoke("onQuarantineRequested", {
        ...request,
        id: "too-many",
        detail: {
          ...request.detail,
          caseId: "IR-9",
          instanceIds: sim.world.requireGroup("web-prod").instanceIds,
        },
      });
      const finding = sample("onQuarantineRequested.guardduty-finding");
      finding.detail.resource.instanceDetails.instanceId = third;
      await sim.invoke("onQuarantineRequested", finding);
    },
  ],
  [
    "a quarantine in network ACL mode of a suspect with KMS-encrypted volumes, released",
    () => {
      const scenario = loadScenario("quarantine-multi-volume");
      scenario.settings.PHOENIX_ISOLATION_NETWORK_ACL = "tagged-subnets";
      scenario.subnets = [{ zone: "us-east-1a", tags: { "phoenix:isolation-nacl": "allowed" } }];
      return scenario;
    },
    async (sim) => {
      await runScenario(loadScenario("quarantine-multi-volume"), () => {}, sim);
      await sim.idle();
      for (const instance of sim.world.instances.values())
        if (instance.tags.has("phoenix:quarantined") && instance.state === "running")
          await sim.invoke("releaseQuarantine", { instanceId: instance.instanceId });
    },
  ],
];

/** Statements no tour reaches, each with why (the tag-on-create test below reaches the first). */
const UNREACHED: Record<string, string> = {
  "snapshotEvidence: TagEvidenceSnapshots":
    "the fallback when AWS refuses the crash-consistent set: one CreateSnapshot per volume, tagged on create",
  "isolateInstances: IsolationAcl":
    "Phoenix's own deny-all network ACL found with rules someone added: they are removed (no tour adds any)",
};

let tours: Toured[] = [];
let template: Template;

beforeAll(async () => {
  template = await packagedTemplate();
  tours = [];
  for (const [name, scenario, act] of TOUR) tours.push(await tour(name, scenario(), act));
}, 600_000);

describe("least privilege on every simulated call", () => {
  it("the tour makes every function's calls, all evaluated, with zero denials", () => {
    const denials = tours.flatMap((run) =>
      run.denials.map(
        (denial) =>
          `${run.name}: ${denial.functionKey} ${denial.request.action} on ${denial.request.resource}`,
      ),
    );
    expect(denials).toEqual([]);
    const functions = new Set(tours.flatMap((run) => run.decisions.map((decision) => decision.functionKey)));
    expect([...(tours[0]?.roles.keys() ?? [])].filter((key) => !functions.has(key))).toEqual([]);
    // Everything Phoenix called was made by one of its functions (nothing escaped evaluation).
    expect(tours.map((run) => [run.name, run.unattributed])).toEqual(tours.map((run) => [run.name, 0]));
    // Tag-on-create, launching from a template and passing a role were evaluated, not assumed.
    const extra = new Set(
      tours.flatMap((run) => run.decisions.filter((d) => d.request.extra).map((d) => d.request.action)),
    );
    expect([...extra].sort()).toEqual(["ec2:CreateTags", "ec2:RunInstances", "iam:PassRole"]);
  });

  it("removing any one statement of any role makes some call of the tour fail (checked with the evaluator)", async () => {
    const decisions = tours.flatMap((run) => run.decisions);
    const roles = tours[0]?.roles ?? new Map();
    const unneeded: string[] = [];
    let checked = 0;
    for (const [functionKey, role] of roles) {
      for (const policy of role.policies) {
        for (const statement of policy.policy.Statement) {
          // The framework's own log permissions: Lambda writes logs, the simulator does not model it.
          if ([statement.Action].flat().every((action) => String(action).startsWith("logs:"))) continue;
          const sid = statement.Sid as string;
          const needs = decisions.find(
            (decision) =>
              decision.functionKey === functionKey &&
              decision.allowedBy.length === 1 &&
              decision.allowedBy[0] === sid,
          );
          if (!needs) {
            if (!(`${functionKey}: ${sid}` in UNREACHED)) unneeded.push(`${functionKey}: ${sid}`);
            continue;
          }
          const without = role.policies.map((item: NamedPolicy) => ({
            name: item.name,
            policy: {
              ...item.policy,
              Statement: item.policy.Statement.filter((other) => other !== statement),
            },
          }));
          const again = await evaluate(
            role.roleArn,
            without,
            needs.request,
            "123456789012",
            needs.request.resourcePolicy,
          );
          expect(
            again.result,
            `${functionKey} without ${sid}: ${needs.request.action} on ${needs.request.resource}`,
          ).not.toBe("Allowed");
          checked++;
        }
      }
    }
    expect(unneeded).toEqual([]);
    expect(checked).toBeGreaterThan(60);
  });
});

describe("denials are enforced, as AWS enforces them", () => {
  /** The packaged template with one statement of one function's role removed. */
  const without = (functionKey: string, ...sids: string[]): Template => {
    const copy = structuredClone(template);
    const logicalId = `${functionKey[0]?.toUpperCase()}${functionKey.slice(1)}IamRoleLambdaExecution`;
    for (const policy of copy.Resources[logicalId].Properties.Policies)
      policy.PolicyDocument.Statement = policy.PolicyDocument.Statement.filter(
        (statement: { Sid?: string }) => !sids.includes(statement.Sid ?? ""),
      );
    return copy;
  };

  it("a role without its instance statement cannot preserve evidence: UnauthorizedOperation, and the quarantine fails", async () => {
    const scenario = loadScenario("quarantine");
    const run = await tour(
      "quarantine without ManagedInstances",
      scenario,
      (sim) => runScenario(scenario, () => {}, sim),
      { template: without("preserveEvidence", "ManagedInstances") },
    );
    // Containment came first (isolateInstances tagged and cut it off); preserving it is denied at its first
    // change of the instance (termination protection).
    expect(run.denials[0]).toMatchObject({
      functionKey: "preserveEvidence",
      request: { action: "ec2:ModifyInstanceAttribute" },
    });
    const failed = run.sim.journal.find((call) => call.error === "UnauthorizedOperation");
    expect(failed?.operation).toBe("ec2:ModifyInstanceAttribute");
    const execution = [...run.sim.executions.values()].find((item) =>
      item.stateMachineArn.includes("quarantine"),
    );
    expect(execution?.status).toBe("FAILED");
  });

  it("tag-on-create is authorized as CreateTags: without it, no evidence snapshot is taken", async () => {
    const scenario = loadScenario("quarantine");
    const run = await tour(
      "quarantine without TagEvidenceSnapshotSets",
      scenario,
      (sim) => runScenario(scenario, () => {}, sim),
      {
        template: without("snapshotEvidence", "TagEvidenceSnapshotSets", "TagEvidenceSnapshots"),
      },
    );
    // The crash-consistent set is refused, then its fallback, one snapshot per volume.
    expect(run.denials[0]?.request).toMatchObject({
      action: "ec2:CreateTags",
      context: { "ec2:CreateAction": "CreateSnapshots" },
    });
    expect(run.denials.map((denial) => denial.request.context["ec2:CreateAction"])).toContain(
      "CreateSnapshot",
    );
    expect(run.sim.world.snapshots.size).toBe(0);
  });

  it("pointing a group at a launch template needs iam:PassRole for its instance role: AccessDenied, the group untouched", async () => {
    const scenario = loadScenario("default");
    const run = await tour(
      "replacement without PassInstanceRoles",
      scenario,
      (sim) => sim.run("replace-group", runInput(scenario)),
      {
        template: without("prepareGroup", "PassInstanceRoles"),
      },
    );
    expect(run.denials[0]?.request).toMatchObject({
      action: "iam:PassRole",
      context: { "iam:PassedToService": "ec2.amazonaws.com" },
    });
    expect(
      run.sim.journal.find((call) => call.operation === "autoscaling:UpdateAutoScalingGroup")?.error,
    ).toBe("AccessDenied");
    expect(run.sim.world.requireGroup("web-prod").launchTemplate.version).toBe("1");
  });

  it("a target group not tagged phoenix:managed is out of reach: DeregisterTargets is denied", async () => {
    const scenario = loadScenario("default");
    for (const group of scenario.targetGroups) group.tags = {};
    const run = await tour("untagged target group", scenario, (sim) =>
      sim.run("replace-group", runInput(scenario)),
    );
    expect(run.denials.map((denial) => denial.request.action)).toContain(
      "elasticloadbalancing:DeregisterTargets",
    );
  });

  it("a simulation with a denial fails when it closes, unless the test provoked it", async () => {
    const scenario = loadScenario("default");
    const sim = await Simulation.fromScenario(scenario, {
      template: without("prepareGroup", "ManagedGroups"),
    });
    await sim.run("replace-group", runInput(scenario));
    await expect(sim.close()).rejects.toThrow(
      /IAM denied \d+ call\(s\) of Phoenix's functions; first: prepareGroup/,
    );
  });
});
