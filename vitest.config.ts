import { configDefaults, defineConfig } from "vitest/config";
import { CA_CERTS_FOR_NPM } from "./test/helpers/cli.js";
import { ALL } from "./test/helpers/tier.js";

/**
 * Left out of the fast tier (`npm test`), run by `npm run test:all` (SECRETFILE_TEST_TIER=all, what CI runs): the
 * tests of a whole installed system, each a minute of waiting or booting rather than of checking — a real cron's next
 * minute, a Debian chroot with the package, the package and the units under a real systemd, README's quick starts.
 */
const WHOLE_SYSTEM = [
  "test/e2e/system/cron.test.ts",
  "test/e2e/system/report-cron.test.ts",
  "test/package/deb.test.ts",
  "test/package/systemd.test.ts",
  "test/readme/laptop.test.ts",
  "test/readme/server.test.ts",
  "test/systemd/systemd.test.ts",
];

// A global NODE_EXTRA_CA_CERTS makes every Node start read and parse that file (about 55 ms here, docs/benchmarks.md);
// the test workers and every process they start inherit this environment. The one test that reaches the network (npm
// install from the registry, test/package/npm-pack.test.ts) gets it back from CA_CERTS_FOR_NPM.
if (process.env.NODE_EXTRA_CA_CERTS !== undefined) process.env[CA_CERTS_FOR_NPM] = process.env.NODE_EXTRA_CA_CERTS;
delete process.env.NODE_EXTRA_CA_CERTS;

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, ...(ALL ? [] : WHOLE_SYSTEM)],
    // The build (when stale) and the copy of the CLI that system-mode tests run: once per run, not once per file.
    globalSetup: ["test/helpers/global-setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn many processes and wait on them: with two files at a time the two cores stood idle a quarter of the
    // fast tier (208 s of CPU in 135 s), so the fast tier runs three. The whole suite keeps two: its kill loops, soak
    // and floods run at full scale and measure latencies that a third file's load would blur.
    maxWorkers: ALL ? 2 : 3,
  },
});
