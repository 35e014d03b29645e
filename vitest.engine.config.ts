import { defineConfig } from "vitest/config";

// Only the engine's unit tests: what mutation testing of functions/engine runs against each mutant
// (npm run mutate). The end-to-end tests cover the engine too, but would take hours per run of mutants.
export default defineConfig({
  test: {
    include: ["test/engine/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    pool: "forks",
  },
});
