// Installs the module seams: from now on every import of the named modules of functions/ gets a wrapper
// whose named exports call through the registry. It must run before any of those modules is first
// imported (so a command installs it, then imports the rest of itself dynamically).
import { register } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The file URL the registry knows a module of the repository by (what the hooks resolve it to). */
export const moduleUrl = (repoPath: string) => pathToFileURL(join(REPO, repoPath)).href;

let installed = false;

/** Wraps the named exports of the named modules (paths from the repository root, e.g. functions/engine/plan.ts). */
export function installSeams(targets: Record<string, string[]>): void {
  if (installed) throw new Error("the seams are installed once per process, before functions/ is imported");
  installed = true;
  register(moduleUrl("local/seams/hooks.mjs"), {
    data: {
      targets: Object.fromEntries(Object.entries(targets).map(([path, names]) => [moduleUrl(path), names])),
      registryUrl: moduleUrl("local/seams/registry.ts"),
    },
  });
}
