import { defineConfig } from "vitest/config";

// Only the engine's unit tests: what mutation testing of functions/engine runs against each mutant
// (npm run mutate). The end-to-end tests cover the engine too, but would take hours per run of mutants.
export default defineConfig({
  test: {
    include: ["test/engine/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    pool: "forks",
    // Not the scale test (a million instances): it checks no stack overflow, not a decision, and under
    // Stryker's instrumentation one run of it outlasts the timeout for every mutant of the sweep.
    testNamePattern: /^(?!.*a million instances)/,
  },
});
