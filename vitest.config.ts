import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The build (when stale) and the copy of the CLI that system-mode tests run: once per run, not once per file.
    globalSetup: ["test/helpers/global-setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn many processes; two cores are shared by all of them.
    maxWorkers: 2,
  },
});
