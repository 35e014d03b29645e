// Regenerates events/: runs scenarios on the simulator and saves the first event each function received
// (from a state machine, a rule or a schedule), so the sample payloads are exactly what AWS would send.
// Usage: npm run events:capture
import "./env";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadScenario } from "./scenario";
import { runScenario } from "./scenario-run";
import { Simulation } from "./simulation";
import { REPO_ROOT } from "./stack";

/** Saves events/<into>/<functionKey>.<State>.json for every Task (trigger events are in events/triggers). */
async function capture(scenarioName: string, into: string, only?: string[]): Promise<void> {
  const scenario = loadScenario(scenarioName);
  const simulation = await Simulation.fromScenario(scenario);
  const seen = new Map<string, unknown>();
  simulation.interceptTask = async ({ stateName, functionKey, input }, call) => {
    const file = `${functionKey}.${stateName}`;
    if (!seen.has(file) && (!only || only.includes(functionKey))) seen.set(file, input);
    return call();
  };
  const report = await runScenario(scenario, () => {}, simulation);
  await simulation.close();
  const dir = join(REPO_ROOT, "events", into);
  mkdirSync(dir, { recursive: true });
  if (scenario.run.input)
    writeFileSync(join(dir, "execution-input.json"), `${JSON.stringify(scenario.run.input, null, 2)}\n`);
  for (const [file, input] of seen)
    writeFileSync(join(dir, `${file}.json`), `${JSON.stringify(input, null, 2)}\n`);
  console.log(
    `events/${into}: ${seen.size} samples (${report.asExpected ? "as expected" : "NOT as expected"})`,
  );
}

await capture("default", "replace-group");
await capture("bad-image", "replace-group-rollback");
const rolloutFunctions = ["resolveImageRollout", "pinImageVersion", "reportImageRollout"];
await capture("image-waves", "image-rollout", rolloutFunctions);
await capture("image-waves-halt", "image-rollout-halted", rolloutFunctions);
await capture("quarantine", "quarantine", [
  "validateQuarantine",
  "preserveEvidence",
  "isolateInstances",
  "revokeCredentials",
  "detachSuspects",
  "checkDetached",
  "snapshotEvidence",
  "reportQuarantine",
]);
