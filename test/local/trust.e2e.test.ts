// The trust boundary end to end on the simulator, deployed from the packaged template: which bus and source
// start what, who may put events on Phoenix's bus (its resource policy, evaluated by a real IAM evaluator),
// which images may roll, and the blast radius of quarantine requests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadScenario, type Scenario } from "../../local/scenario";
import type { Sender } from "../../local/sim/eventbridge";
import { deploy, packagedTemplate, resolve } from "../../local/sim/template";
import { type DeployOptions, Simulation } from "../../local/simulation";
import { PHOENIX_BUS, REPO_ROOT } from "../../local/stack";

let simulation: Simulation | undefined;
afterEach(async () => {
  await simulation?.close();
  simulation = undefined;
});

const sample = (name: string) =>
  JSON.parse(readFileSync(join(REPO_ROOT, "events", "triggers", `${name}.json`), "utf8"));

const NEW_IMAGE = "ami-0c1d2e3f4a5b60002";

/** The image-waves account ready for events: no soak, the golden parameter, the new image created just before. */
async function imageAccount(edit: (scenario: Scenario) => void = () => {}, options: DeployOptions = {}) {
  const scenario = loadScenario("image-waves");
  scenario.parameters = [{ name: "/phoenix/golden-ami/web", value: NEW_IMAGE }];
  scenario.settings = { PHOENIX_SOAK_SECONDS: "0" };
  edit(scenario);
  simulation = await Simulation.fromScenario(scenario, options);
  return simulation;
}

const started = (sim: Simulation) => sim.journal.filter((call) => call.operation === "sfn:StartExecution");
/** Mutating calls other than Phoenix announcing a refusal on its bus. */
const changes = (sim: Simulation) =>
  sim
    .mutatingCalls()
    .filter(
      (call) =>
        !(
          call.operation === "events:PutEvents" &&
          /Refused$/.test((call.input as { Entries: { DetailType: string }[] }).Entries[0]?.DetailType ?? "")
        ),
    );
const refusals = (sim: Simulation, detailType: string) =>
  sim.world.events.filter((event) => event.detailType === detailType).map((event) => event.detail);

const published = (detail: Record<string, unknown> = {}) => ({
  source: "phoenix.publisher",
  detailType: "Image Published",
  detail: { imageId: NEW_IMAGE, channel: "web", ...detail },
});

describe("only trusted sources start work", () => {
  it("Image Published on Phoenix's bus from the publishers' source starts the channel's rollout", async () => {
    const sim = await imageAccount();
    sim.putEvent({ ...published(), eventBusName: PHOENIX_BUS });
    await sim.idle();
    expect(sim.invocations.map((invocation) => invocation.functionKey)).toEqual(["onImagePublished"]);
    expect(started(sim)).toHaveLength(1);
  });

  it.each([
    ["on the default bus", { ...published(), eventBusName: "default" }],
    [
      "from another source on Phoenix's bus",
      { ...published(), source: "acme.pipeline", eventBusName: PHOENIX_BUS },
    ],
    [
      "Quarantine Requested on the default bus",
      {
        source: "phoenix.responder",
        detailType: "Quarantine Requested",
        detail: {},
        eventBusName: "default",
      },
    ],
    [
      "Quarantine Requested from another source on Phoenix's bus",
      { source: "acme.soc", detailType: "Quarantine Requested", detail: {}, eventBusName: PHOENIX_BUS },
    ],
  ])("an event %s starts nothing: no rule matches it", async (_, event) => {
    const sim = await imageAccount();
    sim.putEvent(event);
    await sim.idle();
    expect(sim.invocations).toEqual([]);
    expect(sim.journal).toEqual([]);
  });

  it("the handlers refuse an untrusted source that reaches them another way (a hand-made rule)", async () => {
    const sim = await imageAccount();
    const event = sample("onImagePublished.image-published");
    event.source = "acme.pipeline";
    expect(await sim.invoke("onImagePublished", event)).toMatchObject({
      status: "ignored",
      reason: "source acme.pipeline is not phoenix.publisher",
    });
    const request = sample("onQuarantineRequested.quarantine-requested");
    request.source = "acme.soc";
    expect(await sim.invoke("onQuarantineRequested", request)).toMatchObject({ status: "ignored" });
    expect(sim.mutatingCalls()).toEqual([]);
  });
});

describe("who may put events on Phoenix's bus (its resource policy, evaluated)", () => {
  const ACCOUNT = "123456789012";
  const pipeline = `arn:aws:iam::${ACCOUNT}:role/image-pipeline`;
  const otherAccountPipeline = "arn:aws:iam::210987654321:role/image-pipeline";
  const busArn = `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/${PHOENIX_BUS}`;
  /** The publisher policy the stack outputs, as the template defines it. */
  const publisherPolicy = async () => {
    const deployment = deploy(await packagedTemplate());
    return resolve(deployment.template.Resources.ImagePublisherPolicy.Properties.PolicyDocument, deployment);
  };
  const broad = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "events:*", Resource: "*" }],
  };
  const sender = (principal: string, policy: unknown): Sender => ({
    principal,
    policies: [{ name: "p", policy: policy as Sender["policies"][0]["policy"] }],
  });
  const onBus = { ...published(), eventBusName: PHOENIX_BUS };

  it("by default, this account's roles holding the publisher policy may announce images, and only that", async () => {
    const sim = await imageAccount();
    const holder = sender(pipeline, await publisherPolicy());
    expect(await sim.putEventAs(holder, onBus)).toEqual({ accepted: true });
    expect(
      await sim.putEventAs(holder, {
        source: "phoenix.responder",
        detailType: "Quarantine Requested",
        detail: {},
        eventBusName: PHOENIX_BUS,
      }),
    ).toMatchObject({ accepted: false });
    expect(await sim.putEventAs(sender(otherAccountPipeline, broad), onBus)).toMatchObject({
      accepted: false,
    });
    await sim.idle();
    expect(started(sim)).toHaveLength(1);
  });

  it("naming publishers lets another account's pipeline in, and keeps everyone else out, even with events:*", async () => {
    const sim = await imageAccount(() => {}, {
      stackParameters: { ImagePublisherPrincipals: otherAccountPipeline },
    });
    expect(await sim.putEventAs(sender(otherAccountPipeline, broad), onBus)).toEqual({ accepted: true });
    expect(await sim.putEventAs(sender(pipeline, broad), onBus)).toMatchObject({
      accepted: false,
      error: expect.stringContaining("ExplicitlyDenied"),
    });
    // The named publisher may announce images, and nothing else.
    expect(
      await sim.putEventAs(sender(otherAccountPipeline, broad), {
        source: "phoenix.responder",
        detailType: "Quarantine Requested",
        detail: {},
        eventBusName: PHOENIX_BUS,
      }),
    ).toMatchObject({ accepted: false });
    expect(busArn).toContain(PHOENIX_BUS);
  });

  it("no one outside Phoenix may speak as Phoenix or as an AWS service", async () => {
    const sim = await imageAccount();
    const admin = sender(`arn:aws:iam::${ACCOUNT}:role/admin`, broad);
    expect(
      await sim.putEventAs(admin, {
        source: "phoenix",
        detailType: "Replacement Completed",
        detail: {},
        eventBusName: PHOENIX_BUS,
      }),
    ).toMatchObject({ accepted: false, error: expect.stringContaining("ExplicitlyDenied") });
    expect(
      await sim.putEventAs(admin, {
        source: "aws.imagebuilder",
        detailType: "EC2 Image Builder Image State Change",
        detail: {},
      }),
    ).toEqual({ accepted: false, error: "NotAuthorizedForSourceException" });
  });
});

describe("only vetted images roll", () => {
  const editImage = (edit: Record<string, unknown>) => (scenario: Scenario) => {
    const image = scenario.images.find((item) => item.imageId === NEW_IMAGE);
    Object.assign(image as object, edit);
  };

  it.each([
    ["owned by another account", editImage({ ownerId: "999999999999" }), {}, "image-owner"],
    ["deprecated", editImage({ deprecatedAt: "2026-11-01T00:00:00Z" }), {}, "image-not-deprecated"],
    ["disabled", editImage({ state: "disabled" }), {}, "image-not-disabled"],
    [
      "missing a required tag",
      () => {},
      { PHOENIX_IMAGE_REQUIRED_TAGS: "pipeline=golden" },
      "image-required-tag",
    ],
    [
      "unknown to EC2",
      (scenario: Scenario) => {
        scenario.images = scenario.images.filter((item) => item.imageId !== NEW_IMAGE);
      },
      {},
      "image-exists",
    ],
  ])("an AMI %s is refused with the rule named, and nothing changes", async (_, edit, settings, rule) => {
    const sim = await imageAccount((scenario) => {
      edit(scenario);
      Object.assign(scenario.settings, settings);
    });
    const result = await sim.invoke("onImagePublished", sample("onImagePublished.image-published"));
    expect(result).toMatchObject({ status: "refused", rule });
    expect(refusals(sim, "Image Rollout Refused")).toEqual([
      expect.objectContaining({ rule, imageId: NEW_IMAGE }),
    ]);
    expect(started(sim)).toEqual([]);
    expect(changes(sim)).toEqual([]);
  });

  it("an AMI carrying the required tag rolls", async () => {
    const sim = await imageAccount((scenario) => {
      editImage({ tags: { pipeline: "golden" } })(scenario);
      scenario.settings.PHOENIX_IMAGE_REQUIRED_TAGS = "pipeline=golden";
    });
    expect(await sim.invoke("onImagePublished", sample("onImagePublished.image-published"))).toMatchObject({
      status: "started",
    });
  });

  it("an image deprecated after its rollout started is refused again when a group is pinned: nothing is pinned", async () => {
    const sim = await imageAccount((scenario) => {
      scenario.settings.PHOENIX_SOAK_SECONDS = "600";
    });
    await sim.invoke("onImagePublished", sample("onImagePublished.image-published"));
    const image = sim.world.images.get(NEW_IMAGE);
    if (image) image.deprecatedAt = sim.world.clock.now() + 60_000;
    await sim.idle();
    const rollout = [...sim.executions.values()].find((execution) =>
      execution.stateMachineArn.includes("image-rollout"),
    );
    expect(rollout?.status).toBe("FAILED");
    expect(refusals(sim, "Image Rollout Refused")).toEqual([
      expect.objectContaining({ rule: "image-not-deprecated", groupName: "web-canary" }),
    ]);
    expect(sim.journal.filter((call) => call.operation === "ec2:CreateLaunchTemplateVersion")).toEqual([]);
    expect(sim.world.requireGroup("web-canary").launchTemplate.version).toBe("1");
  });

  it("the channel's newest image is EC2's newest: an older AMI announced later is superseded", async () => {
    const sim = await imageAccount((scenario) => {
      scenario.images.push({
        ...(scenario.images[0] as Scenario["images"][0]),
        imageId: "ami-0c1d2e3f4a5b60009",
      });
      editImage({ createdAt: "2026-11-23T08:00:00Z" })(scenario);
      const older = scenario.images.find((item) => item.imageId === "ami-0c1d2e3f4a5b60009");
      if (older) older.createdAt = "2026-11-20T08:00:00Z";
    });
    const event = sample("onImagePublished.image-published");
    event.detail.soakSeconds = 3600;
    expect(await sim.invoke("onImagePublished", event)).toMatchObject({ status: "started" });
    const late = {
      ...event,
      id: "late",
      time: "2026-11-23T09:02:00Z",
      detail: { ...event.detail, imageId: "ami-0c1d2e3f4a5b60009" },
    };
    expect(await sim.invoke("onImagePublished", late)).toMatchObject({ status: "superseded" });
  });

  it("a future-dated event cannot take the channel head; the genuine image after it rolls", async () => {
    const sim = await imageAccount();
    const future = sample("onImagePublished.image-published");
    future.time = "2099-01-01T00:00:00Z";
    expect(await sim.invoke("onImagePublished", future)).toMatchObject({
      status: "refused",
      rule: "event-not-future-dated",
    });
    expect(started(sim)).toEqual([]);
    const genuine = sample("onImagePublished.image-published");
    genuine.id = "genuine";
    expect(await sim.invoke("onImagePublished", genuine)).toMatchObject({ status: "started" });
  });

  it("Image Builder's AMI is this account's in this region, not the first of the region", async () => {
    const sim = await imageAccount((scenario) => {
      const built = scenario.builtImages[0];
      built?.amis.unshift({ region: "us-east-1", image: "ami-0aaaaaaaaaaaa0001", accountId: "999999999999" });
    });
    expect(await sim.invoke("onImageBuilt", sample("onImageBuilt.image-builder-available"))).toMatchObject({
      status: "started",
      image: { imageId: NEW_IMAGE },
    });
  });
});

describe("event hygiene", () => {
  it("a Parameter Store change that failed (exception) starts nothing, and says why", async () => {
    const sim = await imageAccount();
    const event = sample("onGoldenParameterChanged.ssm-update-failed");
    sim.putEvent({
      source: event.source,
      detailType: event["detail-type"],
      detail: event.detail,
      resources: event.resources,
    });
    await sim.idle();
    expect(sim.invocations.map((invocation) => invocation.result)).toEqual([
      { status: "ignored", reason: expect.stringContaining("Parameter Store did not apply the change") },
    ]);
    expect(started(sim)).toEqual([]);
    expect(sim.mutatingCalls()).toEqual([]);
  });

  it("a GuardDuty sample finding starts nothing, and says why", async () => {
    const sim = await imageAccount();
    expect(
      await sim.invoke("onQuarantineRequested", sample("onQuarantineRequested.guardduty-sample-finding")),
    ).toEqual({
      status: "ignored",
      reason: "GuardDuty sample finding (service.additionalInfo.sample)",
    });
    expect(sim.journal).toEqual([]);
  });
});

describe("quarantine requests have a blast radius", () => {
  async function quarantineAccount(settings: Record<string, string> = {}, desired = 6) {
    const scenario = loadScenario("quarantine");
    scenario.settings = settings;
    const group = scenario.groups[0] as Scenario["groups"][0];
    Object.assign(group, { desiredCapacity: desired, minSize: Math.min(group.minSize, desired) });
    (group.instances[0] as { count: number }).count = desired;
    simulation = await Simulation.fromScenario(scenario);
    return { sim: simulation, members: [...simulation.world.requireGroup("web-prod").instanceIds] };
  }
  const request = (instanceIds: string[], extra: Record<string, unknown> = {}) => {
    const event = sample("onQuarantineRequested.quarantine-requested");
    return { ...event, detail: { ...event.detail, instanceIds, ...extra } };
  };
  const quarantines = (sim: Simulation) =>
    started(sim).filter((call) => JSON.stringify(call.input).includes("quarantine"));

  it("a request for more instances than the budget is refused whole: nothing starts, nothing is counted", async () => {
    const { sim, members } = await quarantineAccount({}, 8);
    const result = await sim.invoke("onQuarantineRequested", request(members.slice(0, 6)));
    expect(result).toMatchObject({ status: "refused", rule: "quarantine-per-request" });
    expect(refusals(sim, "Quarantine Refused")).toEqual([
      expect.objectContaining({ rule: "quarantine-per-request" }),
    ]);
    expect(quarantines(sim)).toEqual([]);
    expect(changes(sim)).toEqual([]);
  });

  it("never the whole group, unless the responders' request says all", async () => {
    const { sim, members } = await quarantineAccount({}, 3);
    expect(await sim.invoke("onQuarantineRequested", request(members))).toMatchObject({
      status: "refused",
      rule: "quarantine-whole-group",
    });
    expect(quarantines(sim)).toEqual([]);
    expect(
      await sim.invoke("onQuarantineRequested", request(members, { all: true, caseId: "IR-ALL" })),
    ).toMatchObject({
      status: "started",
    });
  });

  it("at most so many of one group within an hour; a redelivered request is not counted twice", async () => {
    const { sim, members } = await quarantineAccount({ PHOENIX_QUARANTINE_MAX_PER_HOUR: "3" }, 8);
    const first = request(members.slice(0, 2), { caseId: "IR-1" });
    expect(await sim.invoke("onQuarantineRequested", first)).toMatchObject({ status: "started" });
    // Delivered again: the same execution (Step Functions dedupes the name), and the budget counts it once.
    await sim.invoke("onQuarantineRequested", first);
    expect(new Set(quarantines(sim).map((call) => (call.input as { name: string }).name)).size).toBe(1);
    expect(
      await sim.invoke("onQuarantineRequested", request(members.slice(2, 4), { caseId: "IR-2" })),
    ).toMatchObject({
      status: "refused",
      rule: "quarantine-per-hour",
    });
    expect(
      await sim.invoke("onQuarantineRequested", request(members.slice(2, 3), { caseId: "IR-3" })),
    ).toMatchObject({
      status: "started",
    });
    sim.world.clock.advanceBy(3601_000);
    expect(
      await sim.invoke("onQuarantineRequested", request(members.slice(4, 6), { caseId: "IR-4" })),
    ).toMatchObject({
      status: "started",
    });
  });

  it("who asked is recorded as a claim, with the source and account it came from; control characters are refused", async () => {
    const { sim, members } = await quarantineAccount();
    const result = (await sim.invoke("onQuarantineRequested", request(members.slice(0, 1)))) as {
      caseId: string;
    };
    const execution = [...sim.executions.values()].find((item) => item.name.includes(result.caseId));
    expect(JSON.parse(execution?.input ?? "{}").requestedBy).toBe(
      "alice@example.com (claimed; phoenix.responder in 123456789012)",
    );
    await expect(
      sim.invoke(
        "onQuarantineRequested",
        request(members.slice(1, 2), { requestedBy: "alice\nINFO all clear" }),
      ),
    ).rejects.toThrow(/detail\.requestedBy: must not contain control characters/);
  });
});
