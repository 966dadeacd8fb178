// Nothing done with X25519 keys loads typage (its start-up costs every cron job ~30 ms): the built CLI runs `init`,
// `add`, `get`, `ls` and `exec` with V8's coverage on (NODE_V8_COVERAGE), and typage's own file (the build puts it in
// dist/age.cjs) must not have been loaded; making a post-quantum key (`init --pq`) must have loaded it, which shows
// the check sees it (a static import in crypto.ts again loads it with the store code, and fails).

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSandboxes, sandbox, type Sandbox } from "../helpers/personal.js";

afterAll(removeSandboxes);

/** The file the build puts typage in. */
const TYPAGE_FILE = "/dist/age.cjs";

interface Coverage {
  result: { url: string }[];
}

/** Runs `secretfile ARGS` in `sb` with V8 coverage on and returns whether typage's file was loaded. */
async function loadsTypage(sb: Sandbox, args: string[], input?: string): Promise<boolean> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "secretfile-coverage-"));
  try {
    const r = await sb.run(args, { input, env: { NODE_V8_COVERAGE: dir } });
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length, "the CLI wrote its coverage").toBeGreaterThan(0);
    return files.some((file) =>
      (JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Coverage).result.some((s) =>
        s.url.endsWith(TYPAGE_FILE),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("personal mode: X25519 keys do not load typage", { timeout: 120_000 }, () => {
  it("a post-quantum key loads it, and `init`, `add`, `get`, `ls` and `exec -- true` do not", async () => {
    expect(await loadsTypage(sandbox(), ["init", "--pq"]), `a post-quantum key loads ${TYPAGE_FILE}`).toBe(true);
    const sb = sandbox();
    expect(await loadsTypage(sb, ["init"])).toBe(false);
    expect(await loadsTypage(sb, ["add", "K"], "the value\n")).toBe(false);
    expect(await loadsTypage(sb, ["get", "K"])).toBe(false);
    expect(await loadsTypage(sb, ["ls"])).toBe(false);
    expect(await loadsTypage(sb, ["exec", "--", "true"])).toBe(false);
  });
});
