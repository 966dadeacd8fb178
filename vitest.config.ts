import { configDefaults, defineConfig } from "vitest/config";

/**
 * Left out of the fast tier (`npm test`), run by `npm run test:all` (SECRETFILE_TEST_TIER=all, what CI runs): the
 * tests of a whole installed system, each a minute of waiting or booting rather than of checking — a real cron's next
 * minute, a Debian chroot with the package, the package and the units under a real systemd.
 */
const WHOLE_SYSTEM = [
  "test/e2e/system/cron.test.ts",
  "test/package/deb.test.ts",
  "test/package/systemd.test.ts",
  "test/systemd/systemd.test.ts",
];

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, ...(process.env.SECRETFILE_TEST_TIER === "all" ? [] : WHOLE_SYSTEM)],
    // The build (when stale) and the copy of the CLI that system-mode tests run: once per run, not once per file.
    globalSetup: ["test/helpers/global-setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn many processes; two cores are shared by all of them.
    maxWorkers: 2,
  },
});
