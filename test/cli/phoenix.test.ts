// The phoenix command, run as a user would run it, against the embedded simulated account.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../local/stack";
import { autoScalingXml, type FakeAws, startFakeAws } from "../fake-aws";

/** Runs `phoenix <args>` with tsx; resolves with the exit code and output whatever the code. */
async function phoenix(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return phoenixWith({}, ...args);
}

/** The same, with these environment variables (undefined removes one). */
async function phoenixWith(
  env: Record<string, string | undefined>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const environment: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete environment[name];
  try {
    const { stdout, stderr } = await promisify(execFile)(
      join(REPO_ROOT, "node_modules", ".bin", "tsx"),
      ["cli/phoenix.ts", ...args],
      { cwd: REPO_ROOT, env: environment },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("phoenix plan --local", () => {
  it("prints the age sweep's plan for a simulated fleet, changing nothing", async () => {
    const { code, stdout } = await phoenix("plan", "--local", "--scenario", "age-sweep", "--json");
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.dryRun).toBe(true);
    expect(
      result.plan.decisions.map(
        (decision: { groupName: string; action: string }) => `${decision.groupName}:${decision.action}`,
      ),
    ).toEqual(["web:replace", "batch:replace", "api:skip", "cache:skip"]);
    expect(result.replacements[0].waves[0].instanceIds).toHaveLength(4);
  });

  it("prints a readable table", async () => {
    const { code, stdout } = await phoenix("plan", "--local", "--scenario", "age-sweep");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^web\s+replace\s+4\s+1\s+7d\s+4\/1h/m);
    expect(stdout).toMatch(/^api\s+skip\s+0\s+3 .*fleet budget: at most 2 groups/m);
    expect(stdout).toContain("Plan (dry run, nothing changed)");
  });
});

describe("phoenix fleet ages --local", () => {
  it("prints the histogram with the over-max instances marked, and writes an HTML chart", async () => {
    const html = join(mkdtempSync(join(tmpdir(), "phoenix-ages-")), "ages.html");
    const { code, stdout } = await phoenix(
      "fleet",
      "ages",
      "--local",
      "--scenario",
      "age-sweep",
      "--html",
      html,
    );
    expect(code).toBe(0);
    expect(stdout).toContain("Instance ages across 4 managed groups (21 instances)");
    expect(stdout).toContain("8 over their maximum");
    expect(stdout).toMatch(/>= 14d\s+3 !+\s+web 3 \(3 over max\)/);
    expect(stdout).toContain("! instances over their group's max age");
    const page = readFileSync(html, "utf8");
    expect(page).toContain("<svg");
    expect(page).toMatch(/stroke="#d62728"/);
    // Titled axes with units, a y axis in instances, each group's max age marked, a legend for every mark.
    expect(page).toContain("instance age (time since launch; d = days, h = hours)");
    expect(page).toContain("instances (count)");
    const maxAges = [
      ...page.matchAll(/data-max-age-seconds="(\d+)".*?max age ([^:<]+): ([^<]+)<\/text>/g),
    ].map((match) => `${match[2]}: ${match[3]}`);
    expect(maxAges.sort()).toEqual(["14d: cache", "1d 12h: api", "7d: batch, web"]);
    for (const mark of ["bucket with instances over their max age", "a group's max age", "web (instances)"])
      expect(page).toContain(mark);
    expect(page).not.toMatch(/<script|(src|href)="https?:/);
  });

  it("gives the ages as JSON", async () => {
    const { code, stdout } = await phoenix("fleet", "ages", "--local", "--scenario", "age-sweep", "--json");
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.stats).toMatchObject({ instances: 21, overMax: 8, drifted: 2 });
    expect(report.buckets.reduce((sum: number, bucket: { count: number }) => sum + bucket.count, 0)).toBe(21);
  });
});

describe("phoenix replace --local", () => {
  it("follows a replacement live and exits 0 when it completes", async () => {
    const { code, stdout } = await phoenix(
      "replace",
      "web-prod",
      "--local",
      "--reason",
      "new-image",
      "--target-version",
      "2",
      "--policy",
      '{"maxSurgePercent":50}',
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/plan: replace 12 of 12 instances in 2 waves/);
    expect(stdout).toMatch(/12 instances replaced in 2 waves/);
  });

  it("exits 1 when the replacement rolls back", async () => {
    const { code, stdout } = await phoenix(
      "replace",
      "web-prod",
      "--local",
      "--scenario",
      "bad-image",
      "--reason",
      "new-image",
      "--target-version",
      "2",
      "--policy",
      '{"canary":true,"readiness":{"timeoutSeconds":120}}',
    );
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAILED: ReplacementRolledBack/);
  });

  it.each([
    [["--policy", '{"maxSurgePercent":150}'], /policy.maxSurgePercent/],
    [["--policy", "{not json"], /--policy: is not JSON/],
    [["--instances", "i-1,i-2"], /instanceIds\[0\]: not an EC2 instance id/],
    [["--target-version", "$Latest"], /targetVersion: must be an explicit version number/],
  ])("rejects %j with exit code 2, naming the problem", async (extra, message) => {
    const { code, stderr } = await phoenix("replace", "web-prod", "--local", ...extra);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});

describe("phoenix quarantine --local", () => {
  it("quarantines an instance, follows it live, and ends with the case and manifest digest", async () => {
    const { code, stdout } = await phoenix(
      "quarantine",
      "web-prod:0",
      "--local",
      "--scenario",
      "quarantine",
      "--reason",
      "suspicious outbound traffic",
      "--case",
      "IR-7",
    );
    expect(code).toBe(0);
    // Progress lines wrap at the timeline's width, terminal or not: read each as one line.
    const lines = stdout.replace(/\n {20,}/g, " ");
    expect(lines).toMatch(/contained i-\w+: .*all-traffic group, then the isolation group/);
    expect(lines).toMatch(/preserved i-\w+: termination protection on/);
    expect(stdout).toMatch(/replacement i-\w+ InService and healthy/);
    expect(stdout).toMatch(/case IR-7: i-\w+ quarantined, manifest sha256 [0-9a-f]{64}$/m);
  });

  it("shows the plan on a dry run: what will be preserved and how capacity is kept", async () => {
    const { code, stdout } = await phoenix(
      "quarantine",
      "web-prod:0",
      "--local",
      "--scenario",
      "quarantine",
      "--reason",
      "suspicious outbound traffic",
      "--dry-run",
      "--json",
    );
    expect(code).toBe(0);
    const outcome = JSON.parse(stdout);
    expect(outcome.status).toBe("SUCCEEDED");
    expect(outcome.summary).toMatch(
      /^plan: quarantine i-\w+ as case case-\d{8}-[0-9a-f]+ \(nothing changed\)$/,
    );
    // Six in service, floor six: the plan raises capacity by one before the suspect leaves.
    expect(outcome.output.group).toMatchObject({
      groupName: "web-prod",
      floor: 6,
      healthyOthers: 5,
      raiseBy: 1,
    });
    expect(outcome.output.instances[0].volumes).toHaveLength(1);
  });

  it.each([
    [["web-prod:0"], /reason: required/],
    [["web-prod:0", "--reason", "x"], /reason: say why/],
    [["i-123", "--reason", "compromised"], /instanceIds\[0\]/],
    [["release", "web-prod:0"], /is not under quarantine/],
    [["dispose"], /dispose takes exactly one instance id/],
  ])("rejects %j with exit code 2, naming the problem", async (args, message) => {
    const { code, stderr } = await phoenix("quarantine", ...args, "--local", "--scenario", "quarantine");
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});

describe("phoenix … --here, as a process", () => {
  it("Ctrl-C during a dry run stops it at once and says so", async () => {
    // An AWS-compatible endpoint that takes requests and never answers: the run is stuck in its first step.
    let sawRequest: () => void = () => {};
    const requested = new Promise<void>((resolve) => {
      sawRequest = resolve;
    });
    const server = createServer(() => sawRequest());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const child = spawn(
        join(REPO_ROOT, "node_modules", ".bin", "tsx"),
        ["cli/phoenix.ts", "replace", "web-prod", "--dry-run", "--here"],
        {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            NO_COLOR: "1",
            AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
            AWS_REGION: "eu-west-1",
            AWS_ACCESS_KEY_ID: "AKIDTESTONLY",
            AWS_SECRET_ACCESS_KEY: "test-only",
            PHOENIX_HERE_DIR: mkdtempSync(join(tmpdir(), "phoenix-here-")),
          },
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => (stdout += chunk));
      child.stderr.on("data", (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      await requested;
      child.kill("SIGINT");
      expect(await exited).toBe(1);
      expect(stderr).toContain("Ctrl-C: stopping at the next step that may stop");
      expect(stdout).toContain("ABORTED: stopped before the end");
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 60_000);
});

// Each of these starts the command as a process (tsx, then the SDK): give them room on a loaded machine.
describe("AWS's conventions, as a user runs them", { timeout: 180_000 }, () => {
  const version = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).version;

  it("--version prints the version", async () => {
    const { code, stdout } = await phoenix("--version");
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(version);
  });

  it("--help lists the exit codes", async () => {
    const { code, stdout } = await phoenix("--help");
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /Exit codes:\n\s+0\s+done\n\s+1\s+failed or rolled back.*\n\s+2\s+bad input.*\n\s+3\s+could not reach AWS/,
    );
  });

  it.each([
    [["plan"]],
    [["fleet", "ages"]],
    [["replace", "web-prod", "--target-version", "2", "--dry-run"]],
    [["sweep", "--dry-run"]],
    [["quarantine", "web-prod:0", "--reason", "beaconing", "--dry-run"]],
  ])("--output json on %j prints JSON alone on stdout", async (command) => {
    const scenario = command[0] === "quarantine" ? "quarantine" : "age-sweep";
    const args = command[0] === "replace" ? ["--scenario", "default"] : ["--scenario", scenario];
    const { code, stdout } = await phoenix(...command, "--local", ...args, "--output", "json");
    expect(code).toBe(0);
    expect(() => JSON.parse(stdout)).not.toThrow();
  });

  it("--scenario without --local is refused (exit 2) instead of going to the deployed stack", async () => {
    const { code, stderr } = await phoenix("plan", "--scenario", "age-sweep");
    expect(code).toBe(2);
    expect(stderr).toMatch(/--scenario: needs --local/);
  });

  describe("--region and --profile, on every command against the deployed stack", () => {
    let aws: FakeAws;
    let home: string;
    const sweepResult = {
      dryRun: true,
      plan: {
        sweptAt: "2026-11-23T09:00:00.000Z",
        decisions: [],
        runningGroups: 0,
        maxConcurrentGroups: 3,
        instancesDue: 0,
        instancesToReplace: 0,
      },
      stats: { instances: 0, maxAgeSeconds: 0, p50AgeSeconds: 0, p95AgeSeconds: 0, overMax: 0, drifted: 0 },
      replacements: [],
    };
    beforeAll(async () => {
      aws = await startFakeAws({
        "lambda:Invoke": (request) =>
          request.path.includes("sweepFleet")
            ? { json: sweepResult }
            : request.path.includes("releaseQuarantine")
              ? { json: { instanceId: "i-0123456789abcdef0", dryRun: true, restore: {} } }
              : {
                  json: {
                    plan: {
                      groupName: "web-prod",
                      instancesToReplace: 1,
                      waves: [{}],
                      estimate: { totalSeconds: 60 },
                    },
                  },
                },
        "autoscaling:DescribeAutoScalingGroups": {
          xml: autoScalingXml("DescribeAutoScalingGroups", "<AutoScalingGroups/>"),
        },
      });
      // A profile with its own keys and region, as ~/.aws/config and ~/.aws/credentials hold them.
      home = mkdtempSync(join(tmpdir(), "phoenix-profile-"));
      writeFileSync(join(home, "config"), "[profile ops]\nregion = ap-south-1\n");
      writeFileSync(
        join(home, "credentials"),
        "[ops]\naws_access_key_id = AKIDPROFILEOPS\naws_secret_access_key = not-a-real-key\n",
      );
    });
    afterAll(() => aws.close());
    const env = () => ({
      AWS_ENDPOINT_URL: aws.url,
      AWS_CONFIG_FILE: join(home, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
      // What the shell has: other keys and region, which --profile and --region override.
      AWS_ACCESS_KEY_ID: "AKIDFROMTHESHELL",
      AWS_SECRET_ACCESS_KEY: "not-a-real-key",
      AWS_REGION: "us-west-2",
      AWS_PROFILE: undefined,
      AWS_DEFAULT_REGION: undefined,
    });

    it.each([
      [["plan"], "lambda:Invoke"],
      [["fleet", "ages"], "autoscaling:DescribeAutoScalingGroups"],
      [["replace", "web-prod", "--target-version", "2", "--dry-run"], "lambda:Invoke"],
      [["sweep", "--dry-run"], "lambda:Invoke"],
      [["quarantine", "i-0123456789abcdef0", "--reason", "beaconing", "--dry-run"], "lambda:Invoke"],
      [["quarantine", "release", "i-0123456789abcdef0", "--dry-run"], "lambda:Invoke"],
    ])("%j signs its calls with the profile's keys for the region given", async (command, operation) => {
      const before = aws.requests.length;
      const { code, stdout, stderr } = await phoenixWith(
        env(),
        ...command,
        "--profile",
        "ops",
        "--region",
        "eu-west-1",
        "--output",
        "json",
      );
      expect(code, stderr).toBe(0);
      expect(() => JSON.parse(stdout)).not.toThrow();
      const made = aws.requests.slice(before);
      expect(made.map((request) => request.operation)).toEqual([operation]);
      expect(made[0]).toMatchObject({ region: "eu-west-1", accessKeyId: "AKIDPROFILEOPS" });
    });

    it("--profile alone takes the profile's region when the shell sets none", async () => {
      const before = aws.requests.length;
      const { code } = await phoenixWith(
        { ...env(), AWS_REGION: undefined },
        "plan",
        "--profile",
        "ops",
        "--json",
      );
      expect(code).toBe(0);
      expect(aws.requests.slice(before)[0]).toMatchObject({
        region: "ap-south-1",
        accessKeyId: "AKIDPROFILEOPS",
      });
    });

    // As the AWS CLI: AWS_REGION overrides the profile's region setting; only --region overrides AWS_REGION.
    // https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html
    it("AWS_REGION in the shell wins over the profile's region, as in the AWS CLI", async () => {
      const before = aws.requests.length;
      const { code } = await phoenixWith(env(), "plan", "--profile", "ops", "--json");
      expect(code).toBe(0);
      expect(aws.requests.slice(before)[0]).toMatchObject({
        region: "us-west-2",
        accessKeyId: "AKIDPROFILEOPS",
      });
    });
  });

  it("no region exits 3 before any call, saying what to set", async () => {
    const empty = mkdtempSync(join(tmpdir(), "phoenix-noconfig-"));
    const { code, stderr } = await phoenixWith(
      {
        AWS_CONFIG_FILE: join(empty, "config"),
        AWS_SHARED_CREDENTIALS_FILE: join(empty, "credentials"),
        AWS_REGION: undefined,
        AWS_DEFAULT_REGION: undefined,
        AWS_PROFILE: undefined,
      },
      "plan",
    );
    expect(code).toBe(3);
    expect(stderr).toMatch(/AwsConfigurationError: No AWS region: set AWS_REGION/);
  });

  it("an endpoint that refuses connections exits 3", async () => {
    const { code, stderr } = await phoenixWith(
      {
        AWS_ENDPOINT_URL: "http://127.0.0.1:9",
        AWS_ACCESS_KEY_ID: "AKIDTESTONLY",
        AWS_SECRET_ACCESS_KEY: "test-only",
        AWS_MAX_ATTEMPTS: "1",
      },
      "plan",
      "--region",
      "eu-west-1",
    );
    expect(code).toBe(3);
    expect(stderr).toMatch(/ECONNREFUSED/);
  });
});
