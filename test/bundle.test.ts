// The Lambda bundles are built with deploy/esbuild-plugins.cjs, which rewrites parts of zod and the AWS SDK
// to keep them small. These tests build a bundle with those plugins and check that it puts exactly the same
// requests on the wire, reads responses the same way, validates the same way, and signs with the
// credentials Lambda puts in the environment.
import { mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../local/state-machine";

const plugins = createRequire(import.meta.url)("../deploy/esbuild-plugins.cjs") as Plugin[];
const outDir = join(REPO_ROOT, ".esbuild", "bundle-test");

// One entry that exercises the three wire protocols Phoenix uses (EC2 query, AWS query, JSON) and zod.
const ENTRY = `
import { EC2Client, DescribeInstancesCommand, CreateTagsCommand } from "@aws-sdk/client-ec2";
import { AutoScalingClient, DetachInstancesCommand } from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import * as z from "zod";

const schema = z.object({ groupName: z.string().min(1), at: z.iso.datetime({ offset: true }) });
export const validate = (value) => {
  const result = schema.safeParse(value);
  return result.success ? "ok" : result.error.issues.map((issue) => issue.path.join(".") + ": " + issue.message);
};

export async function calls(requestHandler, withCredentials) {
  const config = { region: "us-east-1", requestHandler, ...(withCredentials ? { credentials: { accessKeyId: "AKIDEXPLICIT", secretAccessKey: "s" } } : {}) };
  const ec2 = new EC2Client(config);
  const out = {};
  out.describe = await ec2.send(new DescribeInstancesCommand({
    Filters: [{ Name: "tag:phoenix:retiring", Values: ["exec-1"] }, { Name: "instance-state-name", Values: ["running"] }],
    MaxResults: 1000,
  }));
  out.tags = await ec2.send(new CreateTagsCommand({ Resources: ["i-0abc", "i-0def"], Tags: [{ Key: "phoenix:retiring", Value: "exec-1" }] }));
  out.detach = await new AutoScalingClient(config).send(new DetachInstancesCommand({
    AutoScalingGroupName: "web", InstanceIds: ["i-0abc"], ShouldDecrementDesiredCapacity: true,
  }));
  out.put = await new DynamoDBClient(config).send(new PutItemCommand({
    TableName: "phoenix", Item: { pk: { S: "lock#web" }, until: { N: "42" } }, ConditionExpression: "attribute_not_exists(pk)",
  }));
  return out;
}
`;

const RESPONSES: Record<string, string> = {
  DescribeInstances: `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r1</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-0abc</instanceId><imageId>ami-0123</imageId><instanceState><code>16</code><name>running</name></instanceState><launchTime>2026-11-20T10:00:00.000Z</launchTime><tagSet><item><key>phoenix:retiring</key><value>exec-1</value></item></tagSet><placement><availabilityZone>us-east-1a</availabilityZone></placement></item></instancesSet></item></reservationSet></DescribeInstancesResponse>`,
  CreateTags: `<CreateTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><return>true</return></CreateTagsResponse>`,
  DetachInstances: `<DetachInstancesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DetachInstancesResult><Activities><member><ActivityId>a-1</ActivityId><AutoScalingGroupName>web</AutoScalingGroupName><StatusCode>InProgress</StatusCode><Progress>50</Progress><StartTime>2026-11-20T10:00:00Z</StartTime><Cause>detached</Cause></member></Activities></DetachInstancesResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></DetachInstancesResponse>`,
  PutItem: `{}`,
};

interface Captured {
  operation: string;
  body: string;
  authorization: string;
}

/** A request handler that records each request and answers it as AWS would, with no network. */
function fakeAws(captured: Captured[]) {
  return {
    async handle(request: { headers: Record<string, string>; body?: string | Uint8Array }) {
      const body = typeof request.body === "string" ? request.body : new TextDecoder().decode(request.body);
      const target = request.headers["x-amz-target"];
      const operation = target ? (target.split(".")[1] ?? "") : (/Action=(\w+)/.exec(body)?.[1] ?? "");
      captured.push({ operation, body, authorization: request.headers.authorization ?? "" });
      return {
        response: {
          statusCode: 200,
          headers: { "content-type": target ? "application/x-amz-json-1.0" : "text/xml" },
          body: Readable.from([Buffer.from(RESPONSES[operation] ?? "")]),
        },
      };
    },
  };
}

type Entry = {
  validate: (value: unknown) => unknown;
  calls: (handler: unknown, withCredentials: boolean) => Promise<Record<string, unknown>>;
};
let bundled: Entry;
let unbundled: Entry;

async function buildEntry(name: string, withPlugins: boolean): Promise<Entry> {
  const outfile = join(outDir, `${name}.mjs`);
  await build({
    stdin: { contents: ENTRY, resolveDir: REPO_ROOT, loader: "js" },
    outfile,
    bundle: withPlugins,
    minify: withPlugins,
    format: "esm",
    platform: "node",
    target: "node20",
    mainFields: ["module", "main"],
    plugins: withPlugins ? plugins : [],
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    logLevel: "silent",
  });
  return (await import(pathToFileURL(outfile).href)) as Entry;
}

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  bundled = await buildEntry("with-plugins", true);
  // Not bundled: imports resolve to node_modules as published.
  unbundled = await buildEntry("as-published", false);
}, 60_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const withoutMetadata = (value: unknown) =>
  JSON.parse(JSON.stringify(value, (key, v) => (key === "$metadata" ? undefined : v)));

describe("Lambda bundles (deploy/esbuild-plugins.cjs)", () => {
  it("send the same requests and read the same responses as the SDK as published", async () => {
    const seenBundled: Captured[] = [];
    const seenPublished: Captured[] = [];
    const fromBundle = await bundled.calls(fakeAws(seenBundled), true);
    const fromPublished = await unbundled.calls(fakeAws(seenPublished), true);
    expect(seenBundled.map(({ operation, body }) => ({ operation, body }))).toEqual(
      seenPublished.map(({ operation, body }) => ({ operation, body })),
    );
    expect(seenBundled.map((call) => call.operation)).toEqual([
      "DescribeInstances",
      "CreateTags",
      "DetachInstances",
      "PutItem",
    ]);
    expect(seenBundled[0]?.body).toContain("Filter.1.Name=tag%3Aphoenix%3Aretiring");
    expect(withoutMetadata(fromBundle)).toEqual(withoutMetadata(fromPublished));
    expect(withoutMetadata(fromBundle.describe)).toMatchObject({
      Reservations: [
        { Instances: [{ InstanceId: "i-0abc", Tags: [{ Key: "phoenix:retiring", Value: "exec-1" }] }] },
      ],
    });
  });

  it("sign with the credentials Lambda puts in the environment", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "ASIALAMBDAROLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_SESSION_TOKEN: "token",
    });
    try {
      const seen: Captured[] = [];
      await bundled.calls(fakeAws(seen), false);
      expect(seen.every((call) => call.authorization.includes("Credential=ASIALAMBDAROLE/"))).toBe(true);
    } finally {
      process.env = saved;
    }
  });

  it("validate and word errors the same way", () => {
    for (const value of [
      { groupName: "web", at: "2026-11-20T10:00:00Z" },
      { groupName: "", at: "yesterday" },
      {},
    ])
      expect(bundled.validate(value)).toEqual(unbundled.validate(value));
    expect(bundled.validate({ groupName: "" })).toEqual([
      "groupName: Too small: expected string to have >=1 characters",
      "at: Invalid input: expected string, received undefined",
    ]);
  });
});
