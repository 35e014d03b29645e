// How the CLI shows plans and fleet ages: terminal text (colour only on a terminal) and a self-contained
// HTML chart a person can open anywhere (no script, no network).
import { formatAge } from "../functions/engine/durations";
import type { AgeBucket, AgedInstance, AgeStats } from "../functions/engine/fleet-ages";
import type { GroupSweepDecision, SweepPlan } from "../functions/engine/sweep";

const RED = "\u001b[31m";
const BOLD = "\u001b[1m";
const DIM = "\u001b[2m";
const RESET = "\u001b[0m";

/** A sweep's result as the sweep function returns it. */
export interface SweepResult {
  dryRun: boolean;
  plan: SweepPlan;
  stats: AgeStats;
  replacements: {
    groupName: string;
    executionName: string;
    reason: string;
    instanceIds: string[];
    waves?: { index: number; instanceIds: string[]; retireFirst: string[] }[];
    estimate?: { totalSeconds: number };
    capacity?: { floor: number; surge: number; batchSize: number };
  }[];
}

const duration = (seconds: number) =>
  seconds >= 3600 ? `${(seconds / 3600).toFixed(1)}h` : `${Math.round(seconds / 60)}m`;

/** The sweep plan as a table: one line per group, then each replacement's waves. */
export function renderSweepPlan(result: SweepResult, color: boolean): string[] {
  const paint = (code: string, text: string) => (color ? `${code}${text}${RESET}` : text);
  const { plan, stats } = result;
  const lines = [
    `${result.dryRun ? "Plan (dry run, nothing changed)" : "Sweep"} at ${plan.sweptAt}: ${plan.instancesToReplace} of ${plan.instancesDue} due instances replaced now; ` +
      `${plan.runningGroups} groups already replacing, at most ${plan.maxConcurrentGroups} at once`,
    `fleet: ${stats.instances} instances, max age ${formatAge(stats.maxAgeSeconds)}, p50 ${formatAge(stats.p50AgeSeconds)}, p95 ${formatAge(stats.p95AgeSeconds)}, ` +
      `${stats.overMax} over their maximum, ${stats.drifted} drifted`,
    "",
    `${"GROUP".padEnd(20)} ${"ACTION".padEnd(8)} ${"NOW".padStart(4)} ${"LATER".padStart(5)}  ${"MAX AGE".padEnd(8)} ${"BUDGET".padEnd(8)} WHY`,
  ];
  for (const decision of plan.decisions) lines.push(groupLine(decision, paint));
  for (const replacement of result.replacements) {
    lines.push("");
    lines.push(
      paint(BOLD, `${replacement.groupName}`) +
        ` (${replacement.reason}, execution ${replacement.executionName})` +
        (replacement.estimate ? `: about ${duration(replacement.estimate.totalSeconds)}` : "") +
        (replacement.capacity
          ? `, floor ${replacement.capacity.floor}, surge ${replacement.capacity.surge}`
          : ""),
    );
    for (const wave of replacement.waves ?? []) {
      const first = wave.retireFirst.length ? ` (${wave.retireFirst.length} retired before launch)` : "";
      lines.push(`  wave ${wave.index + 1}: ${wave.instanceIds.join(", ")}${first}`);
    }
    if (!replacement.waves) lines.push(`  ${replacement.instanceIds.join(", ")}`);
  }
  return lines;
}

function groupLine(decision: GroupSweepDecision, paint: (code: string, text: string) => string): string {
  const action = decision.action === "replace" ? paint(BOLD, "replace ") : paint(DIM, "skip    ");
  return `${decision.groupName.padEnd(20)} ${action} ${String(decision.instances.length).padStart(4)} ${String(decision.deferred.length).padStart(5)}  ${decision.maxAge.padEnd(8)} ${decision.rateBudget.padEnd(8)} ${decision.why}`;
}

/** The terminal histogram of instance ages: a bar per bucket, counts per group, over-max instances in red. */
export function renderAgeHistogram(
  instances: AgedInstance[],
  stats: AgeStats,
  buckets: AgeBucket[],
  color: boolean,
  at: Date,
): string[] {
  const paint = (code: string, text: string) => (color ? `${code}${text}${RESET}` : text);
  const groups = [...new Set(instances.map((instance) => instance.groupName))];
  const widest = Math.max(1, ...buckets.map((bucket) => bucket.count));
  const barWidth = 40;
  const lines = [
    `Instance ages across ${groups.length} managed groups (${stats.instances} instances) at ${at.toISOString()}`,
    `max ${formatAge(stats.maxAgeSeconds)} · p50 ${formatAge(stats.p50AgeSeconds)} · p95 ${formatAge(stats.p95AgeSeconds)} · ` +
      paint(RED, `${stats.overMax} over their maximum`) +
      ` · ${stats.drifted} drifted`,
    "",
  ];
  const labelWidth = Math.max(...buckets.map((bucket) => bucket.label.length));
  for (const bucket of buckets) {
    const length = Math.round((bucket.count / widest) * barWidth);
    const over = Math.round((bucket.overMax / widest) * barWidth);
    // Over-max instances are drawn in red (or as "!" without colour) at the end of the bar.
    const bar = "█".repeat(length - over) + (color ? paint(RED, "█".repeat(over)) : "!".repeat(over));
    const perGroup = Object.entries(bucket.byGroup)
      .map(([group, count]) => `${group} ${count}`)
      .join(", ");
    const overText = bucket.overMax > 0 ? paint(RED, ` (${bucket.overMax} over max)`) : "";
    lines.push(
      `${bucket.label.padStart(labelWidth)} ${String(bucket.count).padStart(4)} ${bar}${" ".repeat(Math.max(0, barWidth - length))} ${perGroup}${overText}`,
    );
  }
  lines.push("");
  lines.push(
    `${"GROUP".padEnd(20)} ${"INSTANCES".padStart(9)} ${"OLDEST".padStart(8)} ${"MAX AGE".padStart(8)} ${"OVER".padStart(5)} ${"DRIFTED".padStart(7)}`,
  );
  for (const group of groups) {
    const members = instances.filter((instance) => instance.groupName === group);
    const over = members.filter((instance) => instance.overMax).length;
    lines.push(
      `${group.padEnd(20)} ${String(members.length).padStart(9)} ${formatAge(Math.max(...members.map((instance) => instance.ageSeconds))).padStart(8)} ` +
        `${formatAge(members[0]?.maxAgeSeconds ?? 0).padStart(8)} ${over ? paint(RED, String(over).padStart(5)) : String(over).padStart(5)} ${String(members.filter((instance) => instance.drifted).length).padStart(7)}`,
    );
  }
  return lines;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

/** A self-contained HTML page: stacked bars per bucket (one colour per group), over-max buckets outlined. */
export function renderAgeHtml(
  instances: AgedInstance[],
  stats: AgeStats,
  buckets: AgeBucket[],
  at: Date,
): string {
  const groups = [...new Set(instances.map((instance) => instance.groupName))].sort();
  const palette = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#bab0ab",
    "#e15759",
    "#ff9da7",
  ];
  const colorOf = (group: string) => palette[groups.indexOf(group) % palette.length] as string;
  const width = 760;
  const height = 320;
  const left = 50;
  const bottom = 60;
  const top = 20;
  const widest = Math.max(1, ...buckets.map((bucket) => bucket.count));
  const slot = (width - left - 10) / Math.max(1, buckets.length);
  const scale = (height - top - bottom) / widest;
  const bars = buckets
    .map((bucket, index) => {
      const x = left + index * slot + slot * 0.15;
      let y = height - bottom;
      const segments = groups
        .filter((group) => bucket.byGroup[group])
        .map((group) => {
          const h = (bucket.byGroup[group] ?? 0) * scale;
          y -= h;
          return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${colorOf(group)}"><title>${escapeHtml(group)}: ${bucket.byGroup[group]}</title></rect>`;
        })
        .join("");
      const outline =
        bucket.overMax > 0
          ? `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${(height - bottom - y).toFixed(1)}" fill="none" stroke="#d62728" stroke-width="3"><title>${bucket.overMax} over their maximum</title></rect>`
          : "";
      const label = `<text x="${(x + slot * 0.35).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle" font-size="11">${escapeHtml(bucket.label)}</text>`;
      const count = `<text x="${(x + slot * 0.35).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="11">${bucket.count || ""}</text>`;
      return segments + outline + label + count;
    })
    .join("\n");
  const legend = groups
    .map(
      (group, index) =>
        `<rect x="${left + index * 130}" y="${height - 24}" width="12" height="12" fill="${colorOf(group)}"/><text x="${left + index * 130 + 16}" y="${height - 14}" font-size="12">${escapeHtml(group)}</text>`,
    )
    .join("");
  const rows = instances
    .slice()
    .sort((a, b) => b.ageSeconds - a.ageSeconds)
    .map(
      (instance) =>
        `<tr${instance.overMax ? ' class="over"' : ""}><td>${escapeHtml(instance.groupName)}</td><td>${instance.instanceId}</td><td>${formatAge(instance.ageSeconds)}</td><td>${formatAge(instance.maxAgeSeconds)}</td><td>${instance.drifted ? "drifted" : ""}${instance.quarantined ? " quarantined" : ""}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Phoenix: instance ages</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}tr.over td{color:#d62728;font-weight:600}.figures span{margin-right:1.5em}</style></head>
<body>
<h1>Instance ages</h1>
<p>${groups.length} managed groups, ${stats.instances} instances, at ${at.toISOString()}. Age is the time since an instance launched.</p>
<p class="figures"><span>max ${formatAge(stats.maxAgeSeconds)}</span><span>p50 ${formatAge(stats.p50AgeSeconds)}</span><span>p95 ${formatAge(stats.p95AgeSeconds)}</span><span style="color:#d62728">${stats.overMax} over their maximum</span><span>${stats.drifted} drifted</span></p>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="Histogram of instance ages">
<line x1="${left}" y1="${height - bottom}" x2="${width - 10}" y2="${height - bottom}" stroke="#888"/>
${bars}
${legend}
</svg>
<h2>Instances, oldest first</h2>
<table><thead><tr><th>group</th><th>instance</th><th>age</th><th>max age</th><th></th></tr></thead><tbody>
${rows}
</tbody></table>
</body></html>
`;
}
