// The bad-input catalogue: malformed events, execution inputs and CLI commands, each against a fresh
// simulated account. Every one is refused with an error that names the problem, and the account receives
// no mutating AWS call at all (asserted per case).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { localBackend } from "../../cli/backends";
import { loadScenario } from "../../local/scenario";
import { Simulation } from "../../local/simulation";
import { REPO_ROOT } from "../../local/stack";
import { runCaptured } from "../run-phoenix";

const sample = (name: string) =>
  JSON.parse(readFileSync(join(REPO_ROOT, "events", "triggers", `${name}.json`), "utf8"));

/** A member of a scenario's group, by index. */
const member = (sim: Simulation, group: string, index: number) =>
  sim.world.requireGroup(group).instanceIds[index] as string;

const replace = (input: Record<string, unknown>) => ({
  groupName: "web-prod",
  reason: "new-image",
  targetVersion: "2",
  ...input,
});

interface Case {
  what: string;
  scenario: string;
  /** Does the bad thing; resolves with the error text Phoenix gave back. */
  act: (sim: Simulation) => Promise<string>;
  says: RegExp;
}

/** Runs an execution and returns its error and cause (it must fail). */
async function execution(sim: Simulation, machine: string, input: unknown): Promise<string> {
  const outcome = await sim.run(machine, input);
  expect(outcome.status).toBe("FAILED");
  return `${outcome.error}: ${outcome.cause}`;
}

/** Invokes a function and returns its error (it must throw). */
async function invocation(sim: Simulation, functionKey: string, event: unknown): Promise<string> {
  const error = await sim.invoke(functionKey, event).then(
    () => undefined,
    (thrown: Error) => thrown,
  );
  expect(error).toBeInstanceOf(Error);
  return `${error?.name}: ${error?.message}`;
}

const cases: Case[] = [
  // replace-group inputs
  {
    what: "replacement without a group",
    scenario: "default",
    act: (sim) => execution(sim, "replace-group", { reason: "manual" }),
    says: /InvalidInputError: .*groupName: required/,
  },
  {
    what: "replacement with a group name of the wrong type",
    scenario: "default",
    act: (sim) => execution(sim, "replace-group", replace({ groupName: 42 })),
    says: /InvalidInputError: .*groupName: Invalid input: expected string, received number/,
  },
  {
    what: "replacement with an unknown reason",
    scenario: "default",
    act: (sim) => execution(sim, "replace-group", replace({ reason: "because" })),
    says: /InvalidInputError: .*reason: Invalid option/,
  },
  {
    what: "replacement onto $Latest",
    scenario: "default",
    act: (sim) => execution(sim, "replace-group", replace({ targetVersion: "$Latest" })),
    says: /targetVersion: must be an explicit version number/,
  },
  {
    what: "replacement with a field it does not know",
    scenario: "default",
    act: (sim) => execution(sim, "replace-group", replace({ force: true })),
    says: /InvalidInputError: .*Unrecognized key: "force"/,
  },
  {
    what: "replacement of a group that does not exist",
    scenario: "default",
    act: (sim) => execution(sim, "replace-group", replace({ groupName: "nope" })),
    says: /GroupNotFoundError: .*nope/,
  },
  {
    what: "replacement of a group Phoenix does not manage",
    scenario: "age-sweep",
    act: (sim) => execution(sim, "replace-group", replace({ groupName: "legacy", targetVersion: "1" })),
    says: /GroupNotManagedError: .*legacy.*phoenix:managed/,
  },
  {
    what: "replacement onto a version the launch template does not have",
    scenario: "default",
    act: (sim) => execution(sim, "replace-group", replace({ targetVersion: "9" })),
    says: /LaunchTemplateVersionNotFoundError: .*9/,
  },
  {
    what: "replacement of an instance from elsewhere",
    scenario: "default",
    act: (sim) =>
      execution(sim, "replace-group", replace({ reason: "manual", instanceIds: ["i-0123456789abcdef0"] })),
    says: /InstanceNotInGroupError: .*i-0123456789abcdef0/,
  },
  {
    what: "a policy with a surge over 100%",
    scenario: "default",
    act: (sim) => execution(sim, "replace-group", replace({ policy: { maxSurgePercent: 150 } })),
    says: /policy\.maxSurgePercent: Too big/,
  },
  {
    what: "a policy that cannot keep the floor (no surge, 100% healthy)",
    scenario: "default",
    act: (sim) =>
      execution(sim, "replace-group", replace({ policy: { maxSurgePercent: 0, minHealthyPercent: 100 } })),
    says: /PolicyBreaksFloorError: .*Allow a surge or lower minHealthyPercent/,
  },
  {
    what: "a replacement naming 6,000 instances",
    scenario: "default",
    act: (sim) =>
      execution(
        sim,
        "replace-group",
        replace({ reason: "manual", instanceIds: Array.from({ length: 6000 }, () => "i-0123456789abcdef0") }),
      ),
    says: /instanceIds: Too big: expected array to have <=5000 items/,
  },
  {
    what: "an execution input over 256 KiB",
    scenario: "default",
    act: async (sim) => {
      try {
        await sim.run("replace-group", replace({ requestedBy: "x".repeat(300_000) }));
        return "started";
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`;
      }
    },
    says: /ValidationException: .*262144/,
  },
  // events
  {
    what: "an Image Published event without a channel",
    scenario: "image-waves",
    act: (sim) => {
      const event = sample("onImagePublished.image-published");
      delete event.detail.channel;
      return invocation(sim, "onImagePublished", event);
    },
    says: /InvalidInputError: .*detail\.channel: required/,
  },
  {
    what: "an Image Published event whose image is not an AMI",
    scenario: "image-waves",
    act: (sim) => {
      const event = sample("onImagePublished.image-published");
      event.detail.imageId = "ubuntu-latest";
      return invocation(sim, "onImagePublished", event);
    },
    says: /detail\.imageId: not an AMI id/,
  },
  {
    what: "an Image Published event with 3,000 characters of release notes",
    scenario: "image-waves",
    act: (sim) => {
      const event = sample("onImagePublished.image-published");
      event.detail.releaseNotes = "x".repeat(3000);
      return invocation(sim, "onImagePublished", event);
    },
    says: /detail\.releaseNotes: Too big/,
  },
  {
    what: "a Quarantine Requested event without a reason",
    scenario: "quarantine",
    act: (sim) => {
      const event = sample("onQuarantineRequested.quarantine-requested");
      delete event.detail.reason;
      return invocation(sim, "onQuarantineRequested", event);
    },
    says: /reason: required/,
  },
  {
    what: "a Quarantine Requested event naming 25 instances",
    scenario: "quarantine",
    act: (sim) => {
      const event = sample("onQuarantineRequested.quarantine-requested");
      event.detail.instanceIds = Array.from({ length: 25 }, () => "i-0123456789abcdef0");
      return invocation(sim, "onQuarantineRequested", event);
    },
    says: /instanceIds: Too big: expected array to have <=20 items/,
  },
  {
    what: "a quarantine of an instance that does not exist",
    scenario: "quarantine",
    act: (sim) =>
      execution(sim, "quarantine-instance", {
        instanceIds: ["i-0123456789abcdef0"],
        reason: "suspicious",
      }),
    says: /InstanceNotFoundError: .*i-0123456789abcdef0/,
  },
  {
    what: "a release of an instance that is not quarantined",
    scenario: "quarantine",
    act: (sim) => invocation(sim, "releaseQuarantine", { instanceId: member(sim, "web-prod", 0) }),
    says: /instanceId: i-\w+ is not under quarantine/,
  },
  {
    what: "a dispose of an instance that is not quarantined",
    scenario: "quarantine",
    act: (sim) => invocation(sim, "disposeQuarantine", { instanceId: member(sim, "web-prod", 0) }),
    says: /instanceId: i-\w+ has no quarantine to dispose of/,
  },
  {
    what: "a sweep asked for a dry run with a string",
    scenario: "age-sweep",
    act: (sim) => invocation(sim, "sweepFleet", { ...sim.scheduledEvent(), dryRun: "yes" }),
    says: /dryRun: Invalid input: expected boolean/,
  },
  {
    what: "a janitor request for something that is not an execution",
    scenario: "default",
    act: (sim) => invocation(sim, "reclaimGroup", { executionArn: "web-prod", groupName: "web-prod" }),
    says: /executionArn: not a Step Functions execution ARN/,
  },
];

describe("bad input changes nothing", () => {
  it.each(cases)("$what", async ({ scenario, act, says }) => {
    const sim = await Simulation.fromScenario(loadScenario(scenario));
    try {
      expect(await act(sim)).toMatch(says);
      await sim.idle();
      expect(sim.mutatingCalls().map((call) => call.operation)).toEqual([]);
    } finally {
      await sim.close();
    }
  });
});

/** Runs `phoenix <args> --local --scenario <scenario>` in-process; returns its exit code, output and calls. */
async function phoenix(scenario: string, ...args: string[]) {
  let sim: Simulation | undefined;
  const run = await runCaptured([...args, "--local", "--scenario", scenario], async (target) => {
    const backend = await localBackend(target.scenario);
    sim = backend.simulation;
    return backend;
  });
  return { ...run, mutating: sim?.mutatingCalls().map((call) => call.operation) ?? [] };
}

describe("bad CLI commands change nothing", () => {
  it.each([
    [
      "replace with a policy that is not JSON",
      "default",
      ["replace", "web-prod", "--policy", "{oops"],
      2,
      /--policy: is not JSON/,
    ],
    [
      "replace with a policy file that does not exist",
      "default",
      ["replace", "web-prod", "--policy", "no-such-policy.json"],
      2,
      /--policy: is neither JSON nor a readable file: no-such-policy\.json/,
    ],
    [
      "replace onto an image id that is not an AMI",
      "default",
      ["replace", "web-prod", "--image", "ubuntu-latest"],
      2,
      /--image: not an AMI id/,
    ],
    [
      "replace with both --image and --target-version",
      "default",
      ["replace", "web-prod", "--image", "ami-0c1d2e3f4a5b60002", "--target-version", "2"],
      2,
      /cannot be used with option '--target-version/,
    ],
    [
      "replace onto an image in a dry run when no version carries it",
      "default",
      ["replace", "web-prod", "--image", "ami-0c1d2e3f4a5b60009", "--dry-run"],
      2,
      /--image: no version of launch template/,
    ],
    [
      "replace with a surge of 150%",
      "default",
      ["replace", "web-prod", "--policy", '{"maxSurgePercent":150}'],
      2,
      /policy\.maxSurgePercent/,
    ],
    [
      "replace with an unknown reason",
      "default",
      ["replace", "web-prod", "--reason", "because"],
      2,
      /argument 'because' is invalid/,
    ],
    [
      "replace of a group that does not exist",
      "default",
      ["replace", "nope", "--target-version", "2"],
      2,
      /GroupNotFoundError/,
    ],
    [
      "replace that cannot keep the floor",
      "default",
      ["replace", "web-prod", "--policy", '{"maxSurgePercent":0}'],
      2,
      /PolicyBreaksFloorError/,
    ],
    ["quarantine without a reason", "quarantine", ["quarantine", "web-prod:0"], 2, /reason: required/],
    [
      "quarantine of a malformed instance id",
      "quarantine",
      ["quarantine", "i-123", "--reason", "suspicious"],
      2,
      /instanceIds\[0\]/,
    ],
    [
      "quarantine of an instance that does not exist",
      "quarantine",
      ["quarantine", "i-0123456789abcdef0", "--reason", "suspicious"],
      2,
      /InstanceNotFoundError/,
    ],
    [
      "release of an instance that is not quarantined",
      "quarantine",
      ["quarantine", "release", "web-prod:0"],
      2,
      /is not under quarantine/,
    ],
    ["an unknown command", "default", ["rebuild", "web-prod"], 2, /unknown command 'rebuild'/],
    ["an unknown option", "default", ["plan", "--all-groups"], 2, /unknown option '--all-groups'/],
    [
      "replace onto a launch template version that does not exist",
      "default",
      ["replace", "web-prod", "--target-version", "99"],
      2,
      /LaunchTemplateVersionNotFoundError.*refused before any change/,
    ],
  ] as const)("%s", async (_what, scenario, args, code, says) => {
    const result = await phoenix(scenario, ...args);
    expect(result.code).toBe(code);
    expect(`${result.stderr}${result.stdout}`).toMatch(says);
    expect(result.mutating).toEqual([]);
  });
});
