// The `phoenix` command for operators and incident responders: its commands, options and exit codes. It
// writes through `io` and reaches AWS through `backendFor`, so tests run it in-process against the
// simulator and see every call it makes.
import { readFileSync, writeFileSync } from "node:fs";
import { Command, Option } from "commander";
import YAML from "yaml";
import * as z from "zod";
import { resetCreatedClients } from "../functions/aws/clients";
import { InvalidInputError, PhoenixError } from "../functions/engine/errors";
import { ageHistogram, ageStats, collectAges } from "../functions/engine/fleet-ages";
import { AmiIdSchema } from "../functions/engine/images";
import { parseOrThrow, ReplacementRequestSchema } from "../functions/engine/policy";
import { QuarantineRequestSchema } from "../functions/engine/quarantine";
import { now } from "../functions/runtime/clock";
import { sweepSettings } from "../functions/runtime/config";
import { AwsConfigurationError } from "../local/here";
import { type Backend, type Outcome, operator, versionForImage } from "./backends";
import { createProgress, type Progress } from "./progress";
import { renderAgeHistogram, renderAgeHtml, renderSweepPlan } from "./render";

/** The version `phoenix --version` prints (package.json's). */
export const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Exit codes, the same for every command and backend (phoenix --help lists them). */
export const EXIT = { done: 0, failed: 1, refused: 2, unreachable: 3 } as const;

const EXIT_CODES_HELP = `
Exit codes:
  0  done
  1  failed or rolled back (the group is back as it was; the output says what happened)
  2  bad input, or refused before any change (nothing was changed)
  3  could not reach AWS: no region or credentials, or the endpoint did not answer (nothing was changed)
  130  stopped with Ctrl-C`;

// Node's and the SDK's words for a request that never reached AWS or never got an answer.
const UNREACHABLE =
  /\b(ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|TimeoutError|socket hang up|RequestTimeout)\b/;

/** Whether an error (or any error in its cause chain) says AWS could not be reached. */
function unreachable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof AwsConfigurationError) return true;
    const { name, message, code } = current as { name?: string; message?: string; code?: string };
    if (UNREACHABLE.test(`${name} ${code} ${message}`)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The exit code of a command that threw. */
function exitCodeOfError(error: unknown): number {
  if (unreachable(error)) return EXIT.unreachable;
  return error instanceof PhoenixError ? EXIT.refused : EXIT.failed;
}

/** The exit code of an execution that ended: refused before any change is bad input, not a failure. */
export function exitCodeOfOutcome(outcome: Pick<Outcome, "status" | "error" | "cause" | "refused">): number {
  if (outcome.status === "SUCCEEDED") return EXIT.done;
  if (outcome.refused)
    return UNREACHABLE.test(`${outcome.error} ${outcome.cause}`) ? EXIT.unreachable : EXIT.refused;
  return EXIT.failed;
}

/** Where the command writes. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
  /** stderr is a terminal: progress shows a spinner. */
  interactive?: boolean;
}

/** Which account a command acts on, and how. */
export interface Target {
  local?: boolean;
  /** Pull mode: run the workflow in this process against the account your AWS configuration reaches. */
  here?: boolean;
  /** With --here: a deployed stack's DynamoDB table, to share its locks. */
  table?: string;
  /** With --local: the scenario whose simulated account to use (default "default"). */
  scenario?: string;
  stage: string;
  /** AWS region and named profile (deployed stack and --here). */
  region?: string;
  profile?: string;
}

/** Options every command takes (before or after the command's name). */
interface GlobalOptions {
  region?: string;
  profile?: string;
  output?: "json" | "table";
  json?: boolean;
  quiet?: boolean;
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
    .option("--scenario <name-or-file>", "with --local: the scenario whose account to use (default: default)")
    .option("--stage <stage>", "the deployed stack's stage", "dev");

/** The last line for an execution that did not succeed. */
function ending(outcome: { status: string; error?: string; cause?: string; refused?: boolean }): string {
  if (outcome.status === "ABORTED")
    return "ABORTED: stopped before the end; whatever it had changed stays as it was at that moment";
  const refused = outcome.refused ? " (refused before any change; nothing was changed)" : "";
  return `${outcome.status}: ${outcome.error}: ${outcome.cause}${refused}`;
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

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
 * input or refused before any change, 3 AWS could not be reached (see EXIT).
 */
export async function runPhoenix(
  argv: string[],
  io: CliIo,
  backendFor: (target: Target) => Promise<Backend>,
): Promise<number> {
  let exitCode = 0;
  const { color } = io;
  let progress: (Progress & { stop(): void }) | undefined;
  /** The global options, checked; with the command's own. */
  const settle = <T extends Target>(
    command: Command,
  ): T & GlobalOptions & { format: "json" | "table"; progress: Progress } => {
    const options = command.optsWithGlobals<T & GlobalOptions>();
    if (options.json && options.output === "table")
      throw new InvalidInputError([{ path: "--json", message: "contradicts --output table" }], "options");
    if (options.scenario !== undefined && !options.local)
      throw new InvalidInputError(
        [{ path: "--scenario", message: "needs --local (a scenario is a simulated account)" }],
        "options",
      );
    const format = options.json ? "json" : (options.output ?? "table");
    // With JSON on stdout, progress goes to stderr.
    progress = createProgress({
      write: format === "json" ? io.err : io.out,
      interactive: io.interactive === true,
      quiet: options.quiet === true,
    });
    return { ...options, format, progress };
  };
  const say = (text: string) => io.out(`${text}\n`);
  async function withBackend<T>(target: Target, work: (backend: Backend) => Promise<T>): Promise<T> {
    if (target.local && (target.region || target.profile))
      io.err("note: --region and --profile choose an AWS account; --local uses the simulated one\n");
    if (!target.local) {
      // The SDK reads these when it creates a client: set them before any is created.
      if (target.region) process.env.AWS_REGION = target.region;
      if (target.profile) process.env.AWS_PROFILE = target.profile;
      if (target.region || target.profile) resetCreatedClients();
    }
    const backend = await backendFor(target);
    try {
      return await work(backend);
    } finally {
      progress?.stop();
      await backend.close();
    }
  }

  const program = new Command()
    .name("phoenix")
    .description("Replace servers, never patch them.")
    .version(VERSION, "-V, --version", "print the version")
    .option("--region <region>", "AWS region (default: AWS_REGION, or your profile's region)")
    .option("--profile <name>", "named profile of your AWS configuration (default: AWS_PROFILE)")
    .addOption(
      new Option("--output <format>", "how to print the result (default: table)").choices(["json", "table"]),
    )
    .option("--json", "the same as --output json")
    .option("-q, --quiet", "print only the result: no progress")
    .showHelpAfterError()
    .exitOverride()
    .addHelpText("after", EXIT_CODES_HELP)
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  targetOptions(
    program
      .command("plan")
      .description(
        "What the age sweep would do now (read-only): groups, instances, waves, budgets, durations",
      ),
  ).action(async (_options: unknown, command: Command) => {
    const options = settle(command);
    const result = await withBackend(options, (backend) => backend.sweepPlan());
    say(options.format === "json" ? json(result) : renderSweepPlan(result, color).join("\n"));
  });

  const fleet = program.command("fleet").description("Questions about the whole managed fleet");
  targetOptions(
    fleet
      .command("ages")
      .description("A histogram of instance ages across managed groups, right now")
      .option("--html <file>", "also write a chart a person can open"),
  ).action(async (_options: unknown, command: Command) => {
    const options = settle<Target & { html?: string }>(command);
    const { inputs, at } = await withBackend(options, async (backend) => ({
      inputs: await backend.fleet(),
      at: now(),
    }));
    const instances = collectAges(inputs, sweepSettings(), at);
    const stats = ageStats(instances);
    const buckets = ageHistogram(instances);
    if (options.html) writeFileSync(options.html, renderAgeHtml(instances, stats, buckets, at));
    if (options.format === "json") say(json({ at: at.toISOString(), stats, buckets, instances }));
    else say(renderAgeHistogram(instances, stats, buckets, color, at).join("\n"));
    if (options.html && options.format !== "json") say(`\nchart written to ${options.html}`);
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
  ).action(async (group: string, _options: unknown, command: Command) => {
    const options = settle<
      Target & {
        reason?: string;
        targetVersion?: string;
        image?: string;
        instances?: string;
        policy?: string;
        dryRun?: boolean;
      }
    >(command);
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
        options.progress(`rolling onto ${options.image}: launch template version ${request.targetVersion}`);
      }
      return backend.replace(request, options.progress);
    });
    sayOutcome(outcome, options.format);
    exitCode = exitCodeOfOutcome(outcome);
  });

  targetOptions(
    program
      .command("sweep")
      .description(
        "Run the age sweep now: replace instances over their group's maximum age or off its image, within budgets",
      )
      .option("--dry-run", "print the plan and change nothing (the same as `phoenix plan`)"),
  ).action(async (_options: unknown, command: Command) => {
    const options = settle<Target & { dryRun?: boolean }>(command);
    await withBackend(options, async (backend) => {
      if (options.dryRun) {
        const plan = await backend.sweepPlan();
        say(options.format === "json" ? json(plan) : renderSweepPlan(plan, color).join("\n"));
        return;
      }
      const { result, outcomes } = await backend.sweep(options.progress);
      if (options.format === "json") say(json({ ...result, outcomes }));
      else {
        say(renderSweepPlan(result, color).join("\n"));
        for (const outcome of outcomes)
          say(
            outcome.status === "SUCCEEDED"
              ? outcome.summary
              : `${outcome.summary.split(":")[0]}: ${ending(outcome)}`,
          );
      }
      exitCode = Math.max(EXIT.done, ...outcomes.map((outcome) => (outcome.status === "SUCCEEDED" ? 0 : 1)));
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
      .option("--dry-run", "validate and show the plan; change nothing"),
  ).action(async (instances: string[], _options: unknown, command: Command) => {
    const options = settle<Target & { reason?: string; case?: string; dryRun?: boolean }>(command);
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
        say(options.format === "json" ? json(result) : YAML.stringify(result).trimEnd());
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
      const outcome = await backend.quarantine(request, options.progress);
      sayOutcome(outcome, options.format);
      exitCode = exitCodeOfOutcome(outcome);
    });
  });

  /** The end of a followed execution: its summary line, or the whole outcome as JSON. */
  function sayOutcome(outcome: Outcome, format: "json" | "table") {
    if (format === "json") {
      const { refused: _refused, ...shown } = outcome;
      say(json(shown));
    } else say(outcome.status === "SUCCEEDED" ? `\n${outcome.summary}` : `\n${ending(outcome)}`);
  }

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error: unknown) {
    progress?.stop();
    const commander = error as { code?: string; exitCode?: number };
    // Help and version are not errors; a usage error was already printed by commander.
    if (
      commander.code === "commander.helpDisplayed" ||
      commander.code === "commander.version" ||
      commander.code === "commander.help"
    )
      return EXIT.done;
    if (commander.code?.startsWith("commander.")) return EXIT.refused;
    if (error instanceof PhoenixError) io.err(`phoenix: ${error.name}: ${error.message}\n`);
    else io.err(`phoenix: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodeOfError(error);
  }
}
