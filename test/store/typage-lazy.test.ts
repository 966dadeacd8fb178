// A read never loads typage (its start-up costs every cron job ~30 ms): the built CLI runs `get`, `ls` and `exec` with
// V8's coverage on (NODE_V8_COVERAGE), and typage's module initializer in the bundle must not have run; a write must
// have run it, which shows the check sees it (a static import again leaves no lazy initializer to find, and fails).

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSandboxes, sandbox, type Sandbox } from "../helpers/personal.js";

afterAll(removeSandboxes);

/** The key esbuild gives typage's entry module in the bundle's lazy initializer: V8 reports it as the function's name. */
const TYPAGE_INIT = "node_modules/age-encryption/dist/index.js";

interface Coverage {
  result: { url: string; functions: { functionName: string; ranges: { count: number }[] }[] }[];
}

/**
 * Runs `secretfile ARGS` in `sb` with V8 coverage on and returns how many times typage's initializer ran, or
 * undefined when the bundle has no such initializer.
 */
async function typageRuns(sb: Sandbox, args: string[], input?: string): Promise<number | undefined> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "secretfile-coverage-"));
  try {
    const r = await sb.run(args, { input, env: { NODE_V8_COVERAGE: dir } });
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length, "the CLI wrote its coverage").toBeGreaterThan(0);
    let runs: number | undefined;
    for (const file of files) {
      const coverage = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Coverage;
      for (const fn of coverage.result.flatMap((s) => s.functions)) {
        if (fn.functionName === TYPAGE_INIT) runs = (runs ?? 0) + fn.ranges[0]!.count;
      }
    }
    return runs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("personal mode: a read does not load typage", { timeout: 120_000 }, () => {
  it("a write loads it, and `get`, `ls` and `exec -- true` do not", async () => {
    const sb = sandbox();
    await sb.init();
    const write = await typageRuns(sb, ["add", "K"], "the value\n");
    expect(write, `the bundle has typage behind a lazy initializer (${TYPAGE_INIT}): crypto.ts must import it with await import()`).toBeGreaterThan(0);
    expect(await typageRuns(sb, ["get", "K"])).toBe(0);
    expect(await typageRuns(sb, ["ls"])).toBe(0);
    expect(await typageRuns(sb, ["exec", "--", "true"])).toBe(0);
  });
});
