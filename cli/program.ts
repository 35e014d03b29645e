// The `phoenix` command for operators and incident responders: its commands, options and exit codes. It
// writes through `io` and reaches AWS through `backendFor`, so tests run it in-process against the
// simulator and see every call it makes.
import { readFileSync, writeFileSync } from "node:fs";
import { Command, Option } from "commander";
import * as z from "zod";
import { InvalidInputError, PhoenixError } from "../functions/engine/errors";
import { ageHistogram, ageStats, collectAges } from "../functions/engine/fleet-ages";
import { AmiIdSchema } from "../functions/engine/images";
import { parseOrThrow, ReplacementRequestSchema } from "../functions/engine/policy";
import { QuarantineRequestSchema } from "../functions/engine/quarantine";
import { now } from "../functions/runtime/clock";
import { sweepSettings } from "../functions/runtime/config";
import { type Backend, operator, versionForImage } from "./backends";
import { renderAgeHistogram, renderAgeHtml, renderSweepPlan } from "./render";

/** Where the command writes. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
}

/** Which account a command acts on, and how. */
export interface Target {
  local?: boolean;
  /** Pull mode: run the workflow in this process against the account your AWS configuration reaches. */
  here?: boolean;
  /** With --here: a deployed stack's DynamoDB table, to share its locks. */
  table?: string;
  scenario: string;
  stage: string;
}

const targetOptions = (command: Command) =>
  command
    .option("--local", "use the embedded simulated AWS account instead of your AWS profile")
    .addOption(
      new Option(
        "--here",
        "run the workflow in this process against the account your AWS configuration reaches (nothing deployed)",
      ).conflicts("local"),
    )
    .option("--table <name>", "with --here: a deployed stack's DynamoDB table, to share its group locks")
    .option("--scenario <name-or-file>", "with --local: the scenario whose account to use", "default")
    .option("--stage <stage>", "the deployed stack's stage", "dev");

/** The last line for an execution that did not succeed. */
function ending(outcome: { status: string; error?: string; cause?: string }): string {
  if (outcome.status === "ABORTED")
    return "ABORTED: stopped before the end; whatever it had changed stays as it was at that moment";
  return `${outcome.status}: ${outcome.error}: ${outcome.cause}`;
}

/** A rollout policy given as JSON or as the path of a JSON file. */
function readPolicy(text: string): unknown {
  let json = text;
  if (!text.trim().startsWith("{")) {
    try {
      json = readFileSync(text, "utf8");
    } catch {
      throw new InvalidInputError(
        [{ path: "--policy", message: `is neither JSON nor a readable file: ${text}` }],
        "option",
      );
    }
  }
  try {
    return JSON.parse(json);
  } catch {
    throw new InvalidInputError([{ path: "--policy", message: "is not JSON" }], "option");
  }
}

/**
 * Runs `phoenix <argv>` and resolves with its exit code: 0 done, 1 the work failed or rolled back, 2 bad
 * input (nothing was changed).
 */
export async function runPhoenix(
  argv: string[],
  io: CliIo,
  backendFor: (target: Target) => Promise<Backend>,
): Promise<number> {
  let exitCode = 0;
  const { color } = io;
  const say = (text: string) => io.out(`${text}\n`);
  async function withBackend<T>(target: Target, work: (backend: Backend) => Promise<T>): Promise<T> {
    const backend = await backendFor(target);
    try {
      return await work(backend);
    } finally {
      await backend.close();
    }
  }

  const program = new Command()
    .name("phoenix")
    .description("Replace servers, never patch them.")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  targetOptions(
    program
      .command("plan")
      .description(
        "What the age sweep would do now (read-only): groups, instances, waves, budgets, durations",
      )
      .option("--json", "print the plan as JSON"),
  ).action(async (options: Target & { json?: boolean }) => {
    const result = await withBackend(options, (backend) => backend.sweepPlan());
    say(options.json ? JSON.stringify(result, null, 2) : renderSweepPlan(result, color).join("\n"));
  });

  const fleet = program.command("fleet").description("Questions about the whole managed fleet");
  targetOptions(
    fleet
      .command("ages")
      .description("A histogram of instance ages across managed groups, right now")
      .option("--json", "print the ages and figures as JSON")
      .option("--html <file>", "also write a chart a person can open"),
  ).action(async (options: Target & { json?: boolean; html?: string }) => {
    const { inputs, at } = await withBackend(options, async (backend) => ({
      inputs: await backend.fleet(),
      at: now(),
    }));
    const instances = collectAges(inputs, sweepSettings(), at);
    const stats = ageStats(instances);
    const buckets = ageHistogram(instances);
    if (options.html) writeFileSync(options.html, renderAgeHtml(instances, stats, buckets, at));
    if (options.json) say(JSON.stringify({ at: at.toISOString(), stats, buckets, instances }, null, 2));
    else say(renderAgeHistogram(instances, stats, buckets, color, at).join("\n"));
    if (options.html && !options.json) say(`\nchart written to ${options.html}`);
  });

  targetOptions(
    program
      .command("replace <group>")
      .description("Replace the instances of one group (new image, manual refresh), following it live")
      .addOption(
        new Option("--reason <reason>", "why (default: new-image with --image, else manual)").choices([
          "new-image",
          "max-age",
          "drift",
          "manual",
        ]),
      )
      .option("--target-version <n>", "explicit launch template version to roll onto")
      .addOption(
        new Option(
          "--image <ami>",
          "roll onto this AMI: a launch template version like the current one with only the image changed",
        ).conflicts("targetVersion"),
      )
      .option("--instances <ids>", "comma-separated instance ids to replace (default: the reason decides)")
      .option(
        "--policy <json-or-file>",
        'rollout policy as JSON or a JSON file, e.g. {"canary":true,"maxSurgePercent":50}',
      )
      .option("--dry-run", "return the plan and change nothing"),
  ).action(
    async (
      group: string,
      options: Target & {
        reason?: string;
        targetVersion?: string;
        image?: string;
        instances?: string;
        policy?: string;
        dryRun?: boolean;
      },
    ) => {
      const policy = options.policy ? readPolicy(options.policy) : undefined;
      if (options.image)
        parseOrThrow(z.object({ "--image": AmiIdSchema }), { "--image": options.image }, "option");
      const request = parseOrThrow(
        ReplacementRequestSchema,
        {
          groupName: group,
          reason: options.reason ?? (options.image ? "new-image" : "manual"),
          targetVersion: options.targetVersion,
          instanceIds: options.instances?.split(",").map((id) => id.trim()),
          policy,
          dryRun: options.dryRun ?? false,
          requestedBy: operator(),
        },
        "request",
      );
      const outcome = await withBackend(options, async (backend) => {
        if (options.image) {
          request.targetVersion = await versionForImage(group, options.image, request.dryRun);
          say(`rolling onto ${options.image}: launch template version ${request.targetVersion}`);
        }
        return backend.replace(request, (line) => say(line));
      });
      say(outcome.status === "SUCCEEDED" ? `\n${outcome.summary}` : `\n${ending(outcome)}`);
      exitCode = outcome.status === "SUCCEEDED" ? 0 : 1;
    },
  );

  targetOptions(
    program
      .command("sweep")
      .description(
        "Run the age sweep now: replace instances over their group's maximum age or off its image, within budgets",
      )
      .option("--dry-run", "print the plan and change nothing (the same as `phoenix plan`)")
      .option("--json", "print the result as JSON"),
  ).action(async (options: Target & { dryRun?: boolean; json?: boolean }) => {
    await withBackend(options, async (backend) => {
      if (options.dryRun) {
        const plan = await backend.sweepPlan();
        say(options.json ? JSON.stringify(plan, null, 2) : renderSweepPlan(plan, color).join("\n"));
        return;
      }
      const { result, outcomes } = await backend.sweep(options.json ? () => {} : (line) => say(line));
      if (options.json) say(JSON.stringify({ ...result, outcomes }, null, 2));
      else {
        say(renderSweepPlan(result, color).join("\n"));
        for (const outcome of outcomes)
          say(
            outcome.status === "SUCCEEDED"
              ? outcome.summary
              : `${outcome.summary.split(":")[0]}: ${outcome.status}: ${outcome.error}: ${outcome.cause}`,
          );
      }
      if (outcomes.some((outcome) => outcome.status !== "SUCCEEDED")) exitCode = 1;
    });
  });

  targetOptions(
    program
      .command("quarantine <instances...>")
      .usage(
        "<instance-id>... --reason <text> [--case <id>] [--dry-run]\n       phoenix quarantine release|dispose <instance-id> [--dry-run]",
      )
      .description(
        "Isolate suspect instances, preserve them as evidence and put validated replacements in their place " +
          "(or: release <id> restores a quarantined instance's network, profile and tags; dispose <id> terminates it once its evidence exists)",
      )
      .option("--reason <text>", "why (recorded in the manifest and on the instance)")
      .option(
        "--case <id>",
        "incident case id (default: derived from the date, the instances and the reason)",
      )
      .option("--dry-run", "validate and show the plan; change nothing")
      .option("--all", "the request may name every instance of a group (otherwise refused)")
      .option("--json", "print the result as JSON"),
  ).action(
    async (
      instances: string[],
      options: Target & { reason?: string; case?: string; dryRun?: boolean; all?: boolean; json?: boolean },
    ) => {
      const [first, ...rest] = instances;
      await withBackend(options, async (backend) => {
        if (first === "release" || first === "dispose") {
          if (rest.length !== 1)
            throw new InvalidInputError(
              [{ path: "instance", message: `${first} takes exactly one instance id` }],
              "arguments",
            );
          const result = await backend.afterQuarantine(
            first,
            backend.resolveInstance(rest[0] as string),
            options.dryRun ?? false,
          );
          say(JSON.stringify(result, null, 2));
          return;
        }
        const request = parseOrThrow(
          QuarantineRequestSchema,
          {
            instanceIds: instances.map((reference) => backend.resolveInstance(reference)),
            reason: options.reason,
            caseId: options.case,
            requestedBy: operator(),
            dryRun: options.dryRun ?? false,
          },
          "request",
        );
        const outcome = await backend.quarantine(request, options.json ? () => {} : (line) => say(line), {
          all: options.all,
        });
        if (options.json) say(JSON.stringify(outcome, null, 2));
        else say(outcome.status === "SUCCEEDED" ? `\n${outcome.summary}` : `\n${ending(outcome)}`);
        exitCode = outcome.status === "SUCCEEDED" ? 0 : 1;
      });
    },
  );

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error: unknown) {
    const commander = error as { code?: string; exitCode?: number };
    // Help and version are not errors; a usage error was already printed by commander.
    if (commander.code === "commander.helpDisplayed" || commander.code === "commander.version") return 0;
    if (commander.code?.startsWith("commander.")) return 2;
    if (error instanceof PhoenixError) io.err(`phoenix: ${error.name}: ${error.message}\n`);
    else io.err(`phoenix: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
}
