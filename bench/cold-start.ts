// Cold start: each function bundled the way serverless-esbuild deploys it (serverless.yml custom.esbuild:
// bundled, minified, ESM, node22, AWS SDK included, deploy/esbuild-plugins.cjs), its size, and the time its module takes to initialise
// in a fresh Node process. Compared with the same handler loading the AWS SDK, Powertools and middy from
// node_modules (unbundled), which is what a Lambda without a bundler pays.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { build, type Plugin } from "esbuild";
import { REPO_ROOT, readStack } from "../local/stack";

/** One function's bundle and its initialisation times. */
export interface ColdStart {
  function: string;
  bundleBytes: number;
  initMedianMs: number;
  samples: number;
  /** The same handler with its libraries loaded from node_modules instead (only for `compareUnbundled`). */
  unbundledInitMedianMs?: number;
}

// The plugins serverless.yml bundles with (custom.esbuild.plugins).
const DEPLOYED_PLUGINS = createRequire(import.meta.url)("../deploy/esbuild-plugins.cjs") as Plugin[];

// Inside the repository, so that an unbundled build resolves its imports from node_modules.
const OUT_DIR = path.join(REPO_ROOT, ".esbuild", "bench");

// What Lambda gives every function; nothing is called while a module initialises, so nothing leaves here.
const LAMBDA_ENV = {
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "AKIDBENCHONLY",
  AWS_SECRET_ACCESS_KEY: "bench-only",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  POWERTOOLS_SERVICE_NAME: "phoenix",
  PHOENIX_TABLE: "phoenix-bench",
};

async function bundle(entry: string, outfile: string, unbundled: boolean): Promise<number> {
  await build({
    entryPoints: [path.join(REPO_ROOT, entry)],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: false,
    target: "node22",
    platform: "node",
    format: "esm",
    mainFields: ["module", "main"],
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    external: unbundled ? ["@aws-sdk/*", "@smithy/*", "@aws-lambda-powertools/*", "@middy/*", "zod"] : [],
    plugins: unbundled ? [] : DEPLOYED_PLUGINS,
    logLevel: "silent",
  });
  return statSync(outfile).size;
}

/** Milliseconds to import `file` in a fresh Node process (the process's own start-up is not counted). */
function importMilliseconds(file: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(`file://${file}`)});process.stdout.write(String(performance.now()-t));`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { PATH: process.env.PATH ?? "", ...LAMBDA_ENV },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`importing ${file} failed: ${result.stderr}`);
  return Number(result.stdout);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Bundles every function of serverless.yml (or the named ones) and times `samples` cold imports of each. */
export async function measureColdStarts(options: {
  samples: number;
  only?: string[];
  compareUnbundled: string[];
}): Promise<ColdStart[]> {
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const results: ColdStart[] = [];
  try {
    for (const fn of readStack().functions.values()) {
      if (options.only && !options.only.includes(fn.key)) continue;
      const outfile = path.join(OUT_DIR, `${fn.key}.mjs`);
      const bundleBytes = await bundle(fn.module, outfile, false);
      const times = Array.from({ length: options.samples }, () => importMilliseconds(outfile));
      const result: ColdStart = {
        function: fn.key,
        bundleBytes,
        initMedianMs: median(times),
        samples: options.samples,
      };
      if (options.compareUnbundled.includes(fn.key)) {
        const unbundledFile = path.join(OUT_DIR, `${fn.key}.unbundled.mjs`);
        await bundle(fn.module, unbundledFile, true);
        result.unbundledInitMedianMs = median(
          Array.from({ length: options.samples }, () => importMilliseconds(unbundledFile)),
        );
      }
      results.push(result);
    }
  } finally {
    rmSync(OUT_DIR, { recursive: true, force: true });
  }
  return results;
}
