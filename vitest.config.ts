import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    // Builds the packaged template once (the simulator deploys it; IAM evaluates every call against it).
    globalSetup: ["test/global-setup.ts"],
    // The simulator runs whole rollouts in simulated time; a run takes well under a second of CPU, but the
    // CI machine has two cores shared with other jobs.
    testTimeout: 60_000,
    pool: "forks",
  },
});
