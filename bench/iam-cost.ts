// `npm run bench:iam`: what evaluating every simulated call with a real IAM evaluator costs. Runs the same
// work (the six scenarios, a 500-instance rollout and a chaos campaign) in fresh processes with evaluation on
// and off (PHOENIX_SIM_IAM=off), twice each, alternating, and prints the better of the two in wall time and in
// CPU time (the fairer figure on a shared machine), the ratio, and how many calls were evaluated.
import "../local/env";
import { spawnSync } from "node:child_process";
import { REPO_ROOT } from "../local/stack";

const quick = process.argv.includes("--quick");

/** The work, as a module run in a fresh Node process; prints one JSON line of figures. */
const WORK = `
import "./local/env";
import { loadScenario } from "./local/scenario";
import { runScenario } from "./local/scenario-run";
import { scaleScenario } from "./local/scale";
import { Simulation } from "./local/simulation";
import { runCampaign } from "./local/chaos/campaign";
const cpu = (since) => { const used = process.cpuUsage(since); return (used.user + used.system) / 1000; };
const figures = {};
const totals = { calls: 0, decisions: 0, evaluations: 0 };
async function part(name, work) {
  const wall = performance.now(), since = process.cpuUsage();
  await work();
  figures[name] = { wall: performance.now() - wall, cpu: cpu(since) };
}
async function run(scenario, act) {
  const sim = await Simulation.fromScenario(scenario);
  await act(sim);
  await sim.close();
  totals.calls += sim.journal.length; totals.decisions += sim.iam.decisions.length; totals.evaluations += sim.iam.evaluations;
}
await part("scenarios", async () => {
  for (const name of ["default", "bad-image", "image-waves", "image-waves-halt", "quarantine", "age-sweep"])
    await run(loadScenario(name), (sim) => runScenario(loadScenario(name), () => {}, sim));
});
await part("rollout of ${quick ? 100 : 500} instances", () =>
  run(scaleScenario({ instances: ${quick ? 100 : 500} }), (sim) =>
    sim.run("replace-group", { groupName: "big0", reason: "new-image", targetVersion: "2" })),
);
let violations = 0;
await part("chaos campaign", async () => {
  const campaign = await runCampaign(7, ${quick ? 3 : 10});
  violations = campaign.runs.flatMap((item) => item.violations).length;
});
console.log(JSON.stringify({ figures, totals, violations }));
`;

type Figures = {
  figures: Record<string, { wall: number; cpu: number }>;
  totals: { calls: number; decisions: number; evaluations: number };
  violations: number;
};

function measure(iam: "on" | "off"): Figures {
  const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", WORK], {
    cwd: REPO_ROOT,
    env: { ...process.env, PHOENIX_SIM_IAM: iam },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  if (result.status !== 0 || !line.startsWith("{")) throw new Error(`measurement failed: ${result.stderr}`);
  return JSON.parse(line) as Figures;
}

/** The better of two runs, part by part. */
const best = (a: Figures, b: Figures): Figures => ({
  ...b,
  figures: Object.fromEntries(
    Object.entries(a.figures).map(([name, figure]) => [
      name,
      {
        wall: Math.min(figure.wall, b.figures[name]?.wall ?? figure.wall),
        cpu: Math.min(figure.cpu, b.figures[name]?.cpu ?? figure.cpu),
      },
    ]),
  ),
});

const first = { off: measure("off"), on: measure("on") };
const off = best(first.off, measure("off"));
const on = best(first.on, measure("on"));
const s = (ms: number) => (ms / 1000).toFixed(1).padStart(8);
const ratio = (a: number, b: number) => (b / a).toFixed(2).padStart(7);
console.log(
  `IAM evaluation in the simulator (${quick ? "quick" : "full"}): off vs on, better of two fresh processes each`,
);
console.log(
  `${"".padEnd(26)}${"wall off".padStart(8)}${"wall on".padStart(8)}  ratio${"CPU off".padStart(8)}${"CPU on".padStart(8)}  ratio`,
);
for (const [name, figure] of Object.entries(off.figures)) {
  const with_ = on.figures[name] ?? figure;
  console.log(
    `${name.padEnd(26)}${s(figure.wall)}${s(with_.wall)}${ratio(figure.wall, with_.wall)}${s(figure.cpu)}${s(with_.cpu)}${ratio(figure.cpu, with_.cpu)}`,
  );
}
console.log(
  `scenarios and rollout: ${on.totals.calls} calls, ${on.totals.decisions} authorizations checked, ${on.totals.evaluations} run through the evaluator (the rest answered from its memo); chaos violations with IAM on: ${on.violations}`,
);
