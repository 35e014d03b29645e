// Node module hooks (module.register) for the local runner's seams: every import of a module named in
// `targets` gets a thin wrapper module instead, whose named exports call through the seam registry
// (local/seams/registry.ts), so a run can wrap or swap that function without any switch in functions/.
// The wrapper imports the real module itself; the real module's calls between its own functions are not
// seamed. Runs in Node's hooks thread: plain JavaScript, no TypeScript.

/** @type {Map<string, string[]>} real module URL -> export names to seam */
let targets = new Map();
/** @type {string} URL of the registry module */
let registryUrl = "";

const WRAPPER = "phoenix-seam";

export function initialize(data) {
  targets = new Map(Object.entries(data.targets));
  registryUrl = data.registryUrl;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const parent = context.parentURL ?? "";
  if (!targets.has(resolved.url) || parent.includes(`?${WRAPPER}`)) return resolved;
  return { ...resolved, url: `${resolved.url}?${WRAPPER}`, shortCircuit: true };
}

export async function load(url, context, nextLoad) {
  const marker = url.indexOf(`?${WRAPPER}`);
  if (marker < 0) return nextLoad(url, context);
  const real = url.slice(0, marker);
  const names = targets.get(real) ?? [];
  const module = JSON.stringify(real);
  const lines = [
    `export * from ${module};`,
    `import * as real from ${module};`,
    `import { seamed } from ${JSON.stringify(registryUrl)};`,
    ...names.map(
      (name) => `export const ${name} = seamed(${module}, ${JSON.stringify(name)}, real.${name});`,
    ),
  ];
  return { format: "module", source: lines.join("\n"), shortCircuit: true };
}
