// The launcher's V8 code caches (bin/secretfile, build/bundle.mjs): the small entry's own for get, exec and ls
// (dist/hot-WORD.cjs.cache), else the full CLI's one for every command; used when it belongs to the bundle beside it; ignored, with the CLI working the same, when it
// is missing, from another build, or damaged; never written by the CLI.

import { cpSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, ROOT, runCli, tempDir } from "../helpers/cli.js";

describe("the code cache", () => {
  const tmp = tempDir("secretfile-launcher-");
  const app = path.join(tmp.dir, "app");
  const bin = path.join(app, "bin", "secretfile");
  const cache = path.join(app, "dist", "hot-exec.cjs.cache");
  let original: Buffer;

  beforeAll(() => {
    for (const part of ["bin", "dist", "package.json"])
      cpSync(path.join(ROOT, part), path.join(app, part), { recursive: true });
    original = readFileSync(cache);
  });
  afterAll(() => tmp.cleanup());

  /** Runs `exec` on a new personal store with SECRETFILE_DEBUG=1; returns what the launcher said of the cache. */
  async function run(): Promise<string> {
    const dir = path.join(tmp.dir, `store-${Math.random().toString(36).slice(2)}`);
    const env = cleanEnv({ HOME: tmp.dir, SECRETFILE_DEBUG: "1" });
    const add = await runCli(["add", "--dir", dir, "KEY"], { bin, env, input: "a-value-long-enough\n" });
    expect(add.code, add.stderr).toBe(0);
    const r = await runCli(["exec", "--dir", dir, "--", "sh", "-c", 'echo "$KEY"'], { bin, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("[KEY]\n");
    return /code cache (\w+)/.exec(r.stderr)?.[1] ?? "(not said)";
  }

  it("is the small entry's own for get, exec and ls, and the full CLI's for every other command or form", async () => {
    const env = cleanEnv({ HOME: tmp.dir, SECRETFILE_DEBUG: "1" });
    const said = async (args: string[]) =>
      [...(await runCli(args, { bin, env })).stderr.matchAll(/code cache used \(([\w.-]+)\)/g)].map((m) => m[1]);
    // A personal `get` is handed on by the agent's own bundle, before it has done anything, to the one for both modes.
    expect(await said(["get", "--dir", tmp.dir, "NONE"])).toEqual(["hot-get-agent.cjs.cache", "hot-get.cjs.cache"]);
    expect(await said(["get", "--socket", path.join(tmp.dir, "none.sock"), "NONE"])).toEqual([
      "hot-get-agent.cjs.cache",
    ]);
    expect(await said(["exec", "--dir", tmp.dir, "--", "true"])).toEqual(["hot-exec.cjs.cache"]);
    expect(await said(["ls", "--dir", tmp.dir])).toEqual(["hot-ls.cjs.cache"]);
    expect(await said(["rm", "--dir", tmp.dir, "NONE"])).toEqual(["secretfile.cjs.cache"]);
    expect(await said(["get", "--help"])).toEqual([
      "hot-get-agent.cjs.cache",
      "hot-get.cjs.cache",
      "secretfile.cjs.cache",
    ]);
  });

  it("loads typage's file (dist/age.cjs) with its own cache for a post-quantum store only", async () => {
    const env = cleanEnv({ HOME: tmp.dir, SECRETFILE_DEBUG: "1" });
    const pq = path.join(tmp.dir, "pq-store");
    const init = await runCli(["init", "--pq", "--dir", pq], { bin, env });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toContain("secretfile: code cache used (age.cjs.cache)\n");
    const dir = path.join(tmp.dir, "x25519-store");
    const add = await runCli(["add", "--dir", dir, "KEY"], { bin, env, input: "a-value-long-enough\n" });
    expect(add.code, add.stderr).toBe(0);
    const get = await runCli(["get", "--dir", dir, "KEY"], { bin, env });
    expect([get.code, get.stdout]).toEqual([0, "a-value-long-enough"]);
    expect(add.stderr + get.stderr).not.toContain("age.cjs");
  });

  it("is used when it was made for this bundle, and the CLI leaves it as it was", async () => {
    const before = statSync(cache).mtimeMs;
    expect(await run()).toBe("used");
    expect(readFileSync(cache).equals(original)).toBe(true);
    expect(statSync(cache).mtimeMs).toBe(before);
  });

  it.for([
    ["missing", () => rmSync(cache), "none"],
    [
      "from another build (another id on its first line)",
      () =>
        writeFileSync(
          cache,
          Buffer.concat([
            Buffer.from("// secretfile 0.0.0 build 0000000000000000\n"),
            original.subarray(original.indexOf(0x0a) + 1),
          ]),
        ),
      "stale",
    ],
    [
      "damaged after its first line",
      () =>
        writeFileSync(
          cache,
          Buffer.concat([original.subarray(0, original.indexOf(0x0a) + 1), Buffer.alloc(4096, 0x41)]),
        ),
      "rejected",
    ],
    ["cut short", () => writeFileSync(cache, original.subarray(0, original.length >> 1)), "rejected"],
  ] as const)("is ignored when %s, and the CLI works the same", async ([, spoil, said]) => {
    spoil();
    try {
      expect(await run()).toBe(said);
    } finally {
      writeFileSync(cache, original);
    }
  });
});
