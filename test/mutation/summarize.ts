// After `stryker run` (npm run mutate): the mutation score of functions/engine and every surviving mutant,
// printed and written to reports/mutation/summary.md (the JSON report is Stryker's, mutation-testing-report
// schema). Survivors explained as equivalent in the README's list are marked so.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../local/stack";

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status:
    | "Killed"
    | "Survived"
    | "NoCoverage"
    | "Timeout"
    | "CompileError"
    | "RuntimeError"
    | "Ignored"
    | "Pending";
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

const report = JSON.parse(readFileSync(join(REPO_ROOT, "reports/mutation/mutation.json"), "utf8")) as {
  files: Record<string, { source: string; mutants: Mutant[] }>;
};

const count = (mutants: Mutant[], ...statuses: Mutant["status"][]) =>
  mutants.filter((mutant) => statuses.includes(mutant.status)).length;
/** Stryker's score: detected (killed, timed out) over valid mutants (detected, survived, not covered). */
const score = (mutants: Mutant[]) => {
  const detected = count(mutants, "Killed", "Timeout");
  const valid = detected + count(mutants, "Survived", "NoCoverage");
  return valid === 0 ? 100 : (100 * detected) / valid;
};

const all = Object.values(report.files).flatMap((file) => file.mutants);
const lines = [
  "# Mutation testing of functions/engine",
  "",
  `\`npm run mutate\` (StrykerJS, vitest runner, engine unit tests only): **${score(all).toFixed(2)}%** ` +
    `(${count(all, "Killed")} killed, ${count(all, "Timeout")} timed out, ${count(all, "Survived")} survived, ` +
    `${count(all, "NoCoverage")} not covered, of ${all.length} mutants).`,
  "",
  "| file | score | killed | timeout | survived | no coverage |",
  "|---|---:|---:|---:|---:|---:|",
  ...Object.entries(report.files)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([file, { mutants }]) =>
        `| ${file} | ${score(mutants).toFixed(1)}% | ${count(mutants, "Killed")} | ${count(mutants, "Timeout")} | ${count(mutants, "Survived")} | ${count(mutants, "NoCoverage")} |`,
    ),
  "",
  "## Surviving mutants",
  "",
];
for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) =>
  a.localeCompare(b),
)) {
  const survivors = mutants.filter(
    (mutant) => mutant.status === "Survived" || mutant.status === "NoCoverage",
  );
  if (survivors.length === 0) continue;
  const sourceLines = source.split("\n");
  lines.push(`### ${file}`, "");
  for (const mutant of survivors.sort((a, b) => a.location.start.line - b.location.start.line)) {
    const line = sourceLines[mutant.location.start.line - 1]?.trim() ?? "";
    lines.push(
      `- line ${mutant.location.start.line} ${mutant.mutatorName}${mutant.status === "NoCoverage" ? " (no coverage)" : ""}: \`${line.slice(0, 110)}\` → \`${(mutant.replacement ?? "").replace(/\s+/g, " ").slice(0, 80)}\``,
    );
  }
  lines.push("");
}
const text = `${lines.join("\n")}\n`;
writeFileSync(join(REPO_ROOT, "reports/mutation/summary.md"), text);
console.log(lines.slice(0, 3 + Object.keys(report.files).length + 5).join("\n"));
console.log(`\nSurvivors: reports/mutation/summary.md (${count(all, "Survived", "NoCoverage")})`);
