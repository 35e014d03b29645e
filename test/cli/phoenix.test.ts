// The phoenix command, run as a user would run it, against the embedded simulated account.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../local/stack";

/** Runs `phoenix <args>` with tsx; resolves with the exit code and output whatever the code. */
async function phoenix(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      join(REPO_ROOT, "node_modules", ".bin", "tsx"),
      ["cli/phoenix.ts", ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, NO_COLOR: "1" },
      },
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
    const page = readFileSync(html, "utf8");
    expect(page).toContain("<svg");
    expect(page).toMatch(/stroke="#d62728"/);
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
    expect(stdout).toMatch(/contained i-\w+: .*all-traffic group, then the isolation group/);
    expect(stdout).toMatch(/preserved i-\w+: termination protection on/);
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
