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
  lines.push(
    "",
    "Rows: age since launch, count, bar (scaled to the largest row), count per group.",
    `█ instances   ${color ? paint(RED, "█") : "!"} instances over their group's max age`,
  );
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

/** Where an age falls on the chart's x axis: linear within its bucket's slot. */
function xOfAge(ageSeconds: number, buckets: AgeBucket[], left: number, slot: number): number {
  const index = Math.max(
    0,
    buckets.findIndex((bucket) => bucket.toSeconds === undefined || ageSeconds < bucket.toSeconds),
  );
  const bucket = buckets[index] as AgeBucket;
  // The last bucket is open-ended: its lower edge is exact, an age inside it is drawn at its middle.
  const fraction =
    bucket.toSeconds === undefined
      ? ageSeconds <= bucket.fromSeconds
        ? 0
        : 0.5
      : (ageSeconds - bucket.fromSeconds) / (bucket.toSeconds - bucket.fromSeconds);
  return left + (index + Math.min(1, Math.max(0, fraction))) * slot;
}

/**
 * A self-contained HTML page: stacked bars per age bucket (one colour per group) on titled axes, a dashed
 * line at each group's maximum age, buckets holding instances over their maximum outlined in red, and a
 * legend for every mark.
 */
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
  const width = 820;
  const left = 70;
  const right = 20;
  const top = 40;
  const plotHeight = 240;
  const axisY = top + plotHeight;
  const legendRows = Math.ceil((groups.length + 2) / 4);
  const height = axisY + 60 + legendRows * 20 + 10;
  const widest = Math.max(1, ...buckets.map((bucket) => bucket.count));
  // A y axis in whole instances: about five ticks.
  const step = Math.max(1, Math.ceil(widest / 5));
  const yMax = Math.ceil(widest / step) * step;
  const slot = (width - left - right) / Math.max(1, buckets.length);
  const scale = plotHeight / yMax;
  const yTicks = Array.from({ length: yMax / step + 1 }, (_, n) => n * step)
    .map((value) => {
      const y = (axisY - value * scale).toFixed(1);
      return `<line x1="${left - 4}" y1="${y}" x2="${width - right}" y2="${y}" stroke="#eee"/><text x="${left - 8}" y="${y}" dy="4" text-anchor="end" font-size="11">${value}</text>`;
    })
    .join("");
  const bars = buckets
    .map((bucket, index) => {
      const x = left + index * slot + slot * 0.15;
      let y = axisY;
      const segments = groups
        .filter((group) => bucket.byGroup[group])
        .map((group) => {
          const h = (bucket.byGroup[group] ?? 0) * scale;
          y -= h;
          return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${colorOf(group)}"><title>${escapeHtml(group)}: ${bucket.byGroup[group]} instances aged ${escapeHtml(bucket.label)}</title></rect>`;
        })
        .join("");
      const outline =
        bucket.overMax > 0
          ? `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${(axisY - y).toFixed(1)}" fill="none" stroke="#d62728" stroke-width="3"><title>${bucket.overMax} over their group's maximum age</title></rect>`
          : "";
      const label = `<text x="${(x + slot * 0.35).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" font-size="11">${escapeHtml(bucket.label)}</text>`;
      const count = `<text x="${(x + slot * 0.35).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="11">${bucket.count || ""}</text>`;
      return segments + outline + label + count;
    })
    .join("\n");
  // Each group's maximum age as a dashed line in its colour; groups sharing one maximum share the line.
  const maxAges = new Map<number, string[]>();
  for (const group of groups) {
    const maxAge = instances.find((instance) => instance.groupName === group)?.maxAgeSeconds ?? 0;
    maxAges.set(maxAge, [...(maxAges.get(maxAge) ?? []), group]);
  }
  const markers = [...maxAges.entries()]
    .sort(([a], [b]) => a - b)
    .map(([maxAge, named], index) => {
      const x = xOfAge(maxAge, buckets, left, slot).toFixed(1);
      const color = named.length === 1 ? colorOf(named[0] as string) : "#555";
      const text = `max age ${formatAge(maxAge)}: ${named.join(", ")}`;
      return `<g class="max-age" data-max-age-seconds="${maxAge}"><line x1="${x}" y1="${top - 6}" x2="${x}" y2="${axisY}" stroke="${color}" stroke-width="2" stroke-dasharray="6 4"/><text x="${x}" y="${top - 10 - (index % 2) * 12}" text-anchor="middle" font-size="11" fill="${color}">${escapeHtml(text)}</text><title>${escapeHtml(text)}</title></g>`;
    })
    .join("\n");
  const legendItems = [
    ...groups.map(
      (group) =>
        `<rect width="12" height="12" fill="${colorOf(group)}"/><text x="16" y="10" font-size="12">${escapeHtml(group)} (instances)</text>`,
    ),
    '<rect width="12" height="12" fill="none" stroke="#d62728" stroke-width="3"/><text x="16" y="10" font-size="12">bucket with instances over their max age</text>',
    '<line x1="0" y1="6" x2="12" y2="6" stroke="#555" stroke-width="2" stroke-dasharray="4 2"/><text x="16" y="10" font-size="12">a group\'s max age (its colour)</text>',
  ];
  const legend = legendItems
    .map(
      (item, index) =>
        `<g class="legend" transform="translate(${left + (index % 4) * 185},${axisY + 52 + Math.floor(index / 4) * 20})">${item}</g>`,
    )
    .join("");
  const axes = [
    `<line x1="${left}" y1="${axisY}" x2="${width - right}" y2="${axisY}" stroke="#888"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${axisY}" stroke="#888"/>`,
    `<text x="${(left + width - right) / 2}" y="${axisY + 36}" text-anchor="middle" font-size="12">instance age (time since launch; d = days, h = hours)</text>`,
    `<text transform="translate(18,${top + plotHeight / 2}) rotate(-90)" text-anchor="middle" font-size="12">instances (count)</text>`,
  ].join("\n");
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
${yTicks}
${axes}
${bars}
${markers}
${legend}
</svg>
<h2>Instances, oldest first</h2>
<table><thead><tr><th>group</th><th>instance</th><th>age</th><th>max age</th><th></th></tr></thead><tbody>
${rows}
</tbody></table>
</body></html>
`;
}
