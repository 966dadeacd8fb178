// A store with history and a secretfile from before history (built from git at the last commit without it): it reads
// the store as before and never shows an earlier value; what it drops when it writes is what docs/history.md says. Skipped, with the reason, when
// the git history is not there (a shallow clone).

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli, tempDir } from "../../helpers/cli.js";
import { removeSandboxes, sandbox } from "../../helpers/personal.js";

/** The last commit of secretfile without history. */
const BEFORE_HISTORY = "d0209e5";
const hasCommit = spawnSync("git", ["-C", ROOT, "cat-file", "-e", `${BEFORE_HISTORY}^{commit}`]).status === 0;

describe("a secretfile from before history, on a store with history", { timeout: 240_000 }, () => {
  let old: { dir: string; cleanup: () => void } | undefined;
  beforeAll(() => {
    if (!hasCommit) return;
    old = tempDir("secretfile-old-");
    const archive = execFileSync("git", ["-C", ROOT, "archive", BEFORE_HISTORY, "src", "bin", "build.mjs", "package.json", "tsconfig.json"]);
    mkdirSync(old.dir, { recursive: true });
    execFileSync("tar", ["-x", "-C", old.dir], { input: archive });
    symlinkSync(path.join(ROOT, "node_modules"), path.join(old.dir, "node_modules"));
    execFileSync(process.execPath, ["build.mjs"], { cwd: old.dir });
  });
  afterAll(() => {
    old?.cleanup();
    removeSandboxes();
  });

  it("reads it without showing any history, and a write of it drops the history and the limit, as documented", async (ctx) => {
    ctx.skip(!hasCommit, `commit ${BEFORE_HISTORY} is not in this clone`);
    const sb = sandbox();
    const runOld = (args: string[], input?: string) => runCli(args, { bin: path.join(old!.dir, "bin", "secretfile"), env: sb.env, input, timeoutMs: 120_000 });
    const versions = async (name: string) => (JSON.parse((await sb.run(["history", name, "--json"])).stdout) as { version: number }[]).map((v) => v.version);
    await sb.add("K", "k1");
    await sb.add("K", "k2", ["--replace"]);
    await sb.add("L", "l1");
    await sb.add("L", "l2", ["--replace"]);
    expect(await sb.run(["history", "--keep", "3"])).toMatchObject({ code: 0 });

    expect(await runOld(["get", "K"])).toMatchObject({ code: 0, stdout: "k2", stderr: "" });
    const ls = await runOld(["ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    // It lists what it always listed: no earlier value, no version, nothing of the history.
    expect(JSON.parse(ls.stdout)).toEqual(["K", "L"].map((name) => ({ name, created: expect.any(String), updated: expect.any(String), status: "ok" })));
    expect(ls.stdout).not.toMatch(/k1|l1/);
    expect(await runOld(["add", "K", "--replace"], "k3")).toMatchObject({ code: 0 });

    // Its write kept every secret and dropped the whole history (K's and L's) and the limit, which is back to 5.
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "k3" });
    expect(await sb.run(["get", "L"])).toMatchObject({ code: 0, stdout: "l2" });
    expect(await versions("K")).toEqual([1]);
    expect(await versions("L")).toEqual([1]);
    expect(await sb.run(["history"])).toMatchObject({ stderr: "secretfile: each secret keeps up to 5 earlier values\n" });
  });
});
