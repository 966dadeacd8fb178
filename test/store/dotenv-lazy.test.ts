// dotenv is evaluated only when a .env file is read: the built CLI runs with V8's coverage on (NODE_V8_COVERAGE), and
// the innermost range holding dotenv's module body in the bundle that ran (dist/secretfile.cjs, or the small entry's
// dist/hot-WORD.cjs) must have run for `import` and `exec --env-file`, and not for `get` or `exec` without it (a static
// import without build/bundle.mjs's LOAD_ON_USE fails).

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { removeSandboxes, sandbox, type Sandbox } from "../helpers/personal.js";

afterAll(removeSandboxes);

const DIST = path.join(ROOT, "dist");
/** The launcher compiles the bundle inside this wrapper (bin/secretfile runFile), which shifts every offset. */
const WRAPPER = "(function (exports, require, module, __filename, __dirname) {";

interface Coverage {
  result: { url: string; functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[] }[];
}

/** Runs `secretfile ARGS` in `sb` with coverage on; returns whether dotenv's module body ran in a bundle that ran. */
async function loadsDotenv(sb: Sandbox, args: string[]): Promise<boolean> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "secretfile-coverage-"));
  try {
    const r = await sb.run(args, { env: { NODE_V8_COVERAGE: dir } });
    expect(r.code, r.stderr).toBe(0);
    let bundles = 0;
    let ran = false;
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      for (const script of (JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Coverage).result) {
        const name = /\/dist\/((?:secretfile|hot-\w+)\.cjs)$/.exec(script.url)?.[1];
        if (name === undefined) continue;
        bundles++;
        const at = readFileSync(path.join(DIST, name), "latin1").indexOf("www.dotenvx.com"); // in dotenv's TIPS, evaluated with its module
        if (at === -1) continue; // a bundle without dotenv (hot-get.cjs, hot-ls.cjs) cannot have run it
        const offset = WRAPPER.length + at;
        let inner: { startOffset: number; endOffset: number; count: number } | undefined;
        for (const fn of script.functions) {
          for (const range of fn.ranges) {
            if (
              range.startOffset <= offset &&
              offset < range.endOffset &&
              (inner === undefined || range.endOffset - range.startOffset < inner.endOffset - inner.startOffset)
            )
              inner = range;
          }
        }
        expect(inner, `the coverage of ${name} was written`).toBeDefined();
        ran ||= inner!.count > 0;
      }
    }
    expect(bundles, "the coverage of a bundle was written").toBeGreaterThan(0);
    return ran;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("dotenv is loaded only when a .env file is read", { timeout: 120_000 }, () => {
  it("import and exec --env-file load it; get, ls and exec without --env-file do not", async () => {
    const sb = sandbox();
    const file = path.join(sb.root, "app.env");
    writeFileSync(file, "K=a-value\n");
    expect(await loadsDotenv(sb, ["import", file])).toBe(true);
    expect(await loadsDotenv(sb, ["exec", "--env-file", file, "--", "true"])).toBe(true);
    expect(await loadsDotenv(sb, ["get", "K"])).toBe(false);
    expect(await loadsDotenv(sb, ["ls"])).toBe(false);
    expect(await loadsDotenv(sb, ["exec", "--", "true"])).toBe(false);
    expect(await loadsDotenv(sb, ["exec", "--only", "K", "--", "true"])).toBe(false);
  });
});
