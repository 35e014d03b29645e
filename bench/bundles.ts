// Bundle sizes as deployed: `npx osls package` builds every function's zip exactly as `osls deploy` uploads
// it (serverless-esbuild with serverless.yml's settings and deploy/esbuild-plugins.cjs), and this reads the
// size of each function's code file inside its zip (the source map beside it is not loaded by Lambda).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { openPromise } from "yauzl";
import { REPO_ROOT, readStack } from "../local/stack";

/** One function's packaged code. */
export interface PackagedBundle {
  function: string;
  file: string;
  bytes: number;
  zipBytes: number;
}

/** Runs `npx osls package` (no credentials, no network) and returns each function's packaged code size. */
export async function packagedBundles(): Promise<PackagedBundle[]> {
  const run = spawnSync("npx", ["osls", "package"], { cwd: REPO_ROOT, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`osls package failed: ${run.stdout}\n${run.stderr}`);
  const bundles: PackagedBundle[] = [];
  for (const fn of readStack().functions.values()) {
    const zip = path.join(REPO_ROOT, ".serverless", `${fn.key}.zip`);
    if (!existsSync(zip)) throw new Error(`osls package wrote no ${zip}`);
    const archive = await openPromise(zip);
    let code: { fileName: string; uncompressedSize: number; compressedSize: number } | undefined;
    for await (const entry of archive.eachEntry()) if (entry.fileName.endsWith(".mjs")) code = entry;
    if (!code) throw new Error(`${zip} holds no .mjs bundle`);
    bundles.push({
      function: fn.key,
      file: code.fileName,
      bytes: code.uncompressedSize,
      zipBytes: code.compressedSize,
    });
  }
  return bundles;
}
