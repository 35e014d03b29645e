// Regenerates events/: runs scenarios on the simulator and saves the execution input and the first input
// each Lambda function received, so the sample payloads are exactly what the state machine sends.
// Usage: npm run events:capture
import "./env";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadScenario } from "./scenario";
import { Simulation } from "./simulation";
import { REPO_ROOT } from "./state-machine";

/** Saves the first event each Task state sent to its function, as events/<into>/<functionKey>.<State>.json. */
async function capture(scenarioName: string, into: string): Promise<void> {
  const scenario = loadScenario(scenarioName);
  const simulation = await Simulation.fromScenario(scenario);
  const seen = new Map<string, unknown>();
  await simulation.run(scenario.run.stateMachine, scenario.run.input, {
    executionName: `${scenarioName}-sample`,
    interceptTask: async ({ stateName, functionKey, input }, call) => {
      const file = `${functionKey}.${stateName}`;
      if (!seen.has(file)) seen.set(file, input);
      return call();
    },
  });
  await simulation.close();
  const dir = join(REPO_ROOT, "events", into);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "execution-input.json"), `${JSON.stringify(scenario.run.input, null, 2)}\n`);
  for (const [file, input] of seen)
    writeFileSync(join(dir, `${file}.json`), `${JSON.stringify(input, null, 2)}\n`);
}

await capture("default", "replace-group");
await capture("bad-image", "replace-group-rollback");
console.log("events/replace-group written");
