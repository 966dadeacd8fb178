// Personal mode on a failing disk: each step of a write (temporary file, write, fsync, rename, fsync of the folder, the
// lock) fails with ENOSPC, EIO or EACCES through an LD_PRELOAD shim, and a real tmpfs fills up. The old store stays as
// it was, the error names the file and says what to do (exit 1), and no temporary file or lock is left behind.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Store, storePaths } from "../../../src/store/store.js";
import { cleanEnv, isRoot, runCli, tempDir } from "../../helpers/cli.js";
import { ALL } from "../../helpers/tier.js";
import { compileShim, faultEnv, figure, fill, hasCC, leftovers, readStore } from "./support.js";

const NEEDS_CC = "needs a C compiler (cc) to build the LD_PRELOAD fault shim; CI machines have gcc";
const CODES = ["ENOSPC", "EIO", "EACCES"] as const;
/** A CLI run may take long on a loaded machine; a hang is still caught, two minutes later. */
const SLOW_CLI = 120_000;

/** One step of a write, how to make it fail, and what the user must read then. */
interface Step {
  step: string;
  op: string;
  /** The path the shim acts on: the temporary file by default; `dir` for the folder, or another part of a path. */
  match?: string;
  after?: number;
  /** The error line, from the store file, its folder and the error code. */
  message: (store: string, dir: string, code: string) => string;
  /** True when the new store is already in place when the step fails (the final fsync of the folder). */
  changed?: boolean;
}

const STEPS: Step[] = [
  {
    step: "create the temporary file",
    op: "create",
    message: (s, d, c) => `cannot create a temporary file in ${d}: ${c}; ${s} is unchanged`,
  },
  {
    step: "write it (nothing written)",
    op: "write",
    after: 0,
    message: (s, d, c) => `cannot write a temporary file in ${d}: ${c}; ${s} is unchanged`,
  },
  {
    step: "write it (after 200 bytes)",
    op: "write",
    after: 200,
    message: (s, d, c) => `cannot write a temporary file in ${d}: ${c}; ${s} is unchanged`,
  },
  {
    step: "fsync it",
    op: "fsync",
    message: (s, d, c) => `cannot fsync a temporary file in ${d}: ${c}; ${s} is unchanged`,
  },
  {
    step: "rename it over the store",
    op: "rename",
    message: (s, d, c) => `cannot rename the new store.age into ${d}: ${c}; ${s} is unchanged`,
  },
  {
    step: "fsync the folder",
    op: "dirsync",
    match: "dir",
    changed: true,
    message: (s, d, c) =>
      `wrote ${s}, but cannot fsync its folder ${d}: ${c}; the change is made but may not survive a crash`,
  },
  { step: "take the lock", op: "mkdir", match: "store.age.lock", message: (s, _d, c) => `cannot lock ${s}: ${c}` },
];

/** What the hint must say for each code. */
const HINTS: Record<string, (dir: string) => RegExp> = {
  ENOSPC: (dir) => new RegExp(`^free some space on the filesystem that holds ${esc(dir)}`),
  EIO: () => /^the disk reported an I\/O error/,
  EACCES: (dir) => new RegExp(`^check that you may write to ${esc(dir)}`),
};

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const work = tempDir("secretfile-faults-write-");
let shim = "";
beforeAll(() => {
  if (hasCC) shim = compileShim(work.dir);
});
afterAll(() => work.cleanup());

let count = 0;
/** A personal store with K=old and OTHER, made in-process; returns its folder and the CLI's environment. */
async function seeded(): Promise<{ dir: string; store: string; env: NodeJS.ProcessEnv; root: string }> {
  const root = path.join(work.dir, `case-${++count}`);
  const dir = path.join(root, "store");
  mkdirSync(path.join(root, "home"), { recursive: true, mode: 0o700 });
  const store = await Store.create(storePaths(dir), { pq: false });
  await store.update((doc) => {
    const now = new Date().toISOString();
    doc.secrets.K = { value: "old", created: now, updated: now };
    doc.secrets.OTHER = { value: "untouched", created: now, updated: now };
  });
  const env = cleanEnv({ HOME: path.join(root, "home"), SECRETFILE_DIR: dir });
  delete env.XDG_CONFIG_HOME;
  return { dir, store: store.paths.store, env, root };
}

describe.skipIf(!hasCC)(`personal mode: a write step fails (${NEEDS_CC})`, () => {
  // Every step with every error in `npm run test:all`; in the fast tier every step once, the errors taken in turn.
  const cases = STEPS.flatMap((s, i) => (ALL ? CODES : [CODES[i % CODES.length]!]).map((code) => ({ ...s, code })));
  const fired: string[] = [];
  afterAll(() => figure("personal write faults injected", { cases: cases.length, fired: fired.length }));

  describe.concurrent(
    ALL ? "each step, each error" : "each step, one error each (every pair in npm run test:all)",
    () => {
      it.for(cases)("$step: $code", async (c) => {
        const { dir, store, env, root } = await seeded();
        const before = readFileSync(store);
        const log = path.join(root, "fault.log");
        const match = c.match === "dir" ? dir : c.match;
        const r = await runCli(["add", "K", "--replace"], {
          env: { ...env, ...faultEnv(shim, c.op, c.code, log, match, c.after) },
          input: "new",
          timeoutMs: SLOW_CLI,
        });
        // The fault really was injected (the shim logs it), or this case proves nothing.
        expect(existsSync(log) ? readFileSync(log, "utf8") : "", "the shim never fired").toContain(`${c.op} `);
        fired.push(c.step);
        expect([r.code, r.stdout]).toEqual([1, ""]);
        const lines = r.stderr.split("\n");
        expect(lines, r.stderr).toHaveLength(3);
        expect(lines[0]).toBe(`secretfile: error: ${c.message(store, dir, c.code)}`);
        expect(lines[1]!.replace(/^secretfile: hint: /, "")).toMatch(HINTS[c.code]!(dir));
        expect(lines[2]).toBe("");
        const doc = await readStore(dir);
        expect(doc.secrets.OTHER?.value).toBe("untouched");
        if (c.changed) {
          expect(doc.secrets.K?.value).toBe("new");
        } else {
          expect(readFileSync(store).equals(before), "the store file changed").toBe(true);
          expect(doc.secrets.K?.value).toBe("old");
        }
        expect(leftovers(dir)).toEqual({ temps: [], lock: false, takeover: false, other: [] });
        // Nothing is stuck (no lock is left, checked above); once per step, the next write without the fault shows it.
        if (c.code === CODES[0]) {
          const next = await runCli(["add", "K", "--replace"], { env, input: "after", timeoutMs: SLOW_CLI });
          expect([next.code, next.stderr]).toEqual([0, "secretfile: stored K\n"]);
        }
      });
    },
  );

  it("a store that cannot be read (EIO) is a clear error, exit 1, no output", async () => {
    const { dir, store, env, root } = await seeded();
    const log = path.join(root, "fault.log");
    const r = await runCli(["get", "K"], {
      env: { ...env, ...faultEnv(shim, "read", "EIO", log, "/store.age") },
      timeoutMs: SLOW_CLI,
    });
    expect(readFileSync(log, "utf8")).toContain("read ");
    expect([r.code, r.stdout]).toEqual([1, ""]);
    expect(r.stderr).toMatch(
      new RegExp(
        `^secretfile: error: cannot read the store ${esc(store)}: EIO\\nsecretfile: hint: the disk reported an I/O error[^\\n]*\\n$`,
      ),
    );
    expect(readdirSync(dir).sort()).toEqual(["identity.txt", "store.age", "store.seen"]);
  });

  it.for([
    { what: "identity", match: ".identity.txt.tmp-" },
    { what: "store", match: ".store.age.tmp-" },
  ])(
    "a first `add` that cannot write the new $what leaves no identity, no store and no temporary file",
    async ({ what, match }) => {
      const root = path.join(work.dir, `fresh-${what}`);
      mkdirSync(path.join(root, "home"), { recursive: true, mode: 0o700 });
      const dir = path.join(root, "store");
      const env = cleanEnv({ HOME: path.join(root, "home"), SECRETFILE_DIR: dir });
      const log = path.join(root, "fault.log");
      const r = await runCli(["add", "K"], {
        env: { ...env, ...faultEnv(shim, "write", "ENOSPC", log, match) },
        input: "v",
        timeoutMs: SLOW_CLI,
      });
      expect(readFileSync(log, "utf8")).toContain("write ");
      expect([r.code, r.stdout]).toEqual([1, ""]);
      const file = path.join(dir, what === "identity" ? "identity.txt" : "store.age");
      expect(r.stderr).toMatch(
        new RegExp(
          `^secretfile: error: cannot create the ${what} ${esc(file)}: ENOSPC\\nsecretfile: hint: free some space`,
        ),
      );
      expect(readdirSync(dir)).toEqual([]);
      const again = await runCli(["add", "K"], { env, input: "v", timeoutMs: SLOW_CLI });
      expect(again.code, again.stderr).toBe(0);
      expect((await readStore(dir)).secrets.K?.value).toBe("v");
    },
  );
});

describe.skipIf(!isRoot)("personal mode on a real full disk (a 512 KiB tmpfs; needs root to mount it)", () => {
  it("add on a full tmpfs fails with ENOSPC, the store intact and nothing left behind; once space is freed, it works", async (ctx) => {
    const mnt = path.join(work.dir, "tmpfs");
    mkdirSync(mnt, { mode: 0o700 });
    const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", mnt], { encoding: "utf8" });
    if (mount.status !== 0) {
      ctx.skip(`cannot mount a tmpfs here (${mount.stderr.trim()})`);
      return;
    }
    try {
      const dir = path.join(mnt, "store");
      const store = await Store.create(storePaths(dir), { pq: false });
      await store.update((doc) => {
        const now = new Date().toISOString();
        doc.secrets.K = { value: "old", created: now, updated: now };
      });
      const before = readFileSync(store.paths.store);
      const env = cleanEnv({ HOME: work.dir, SECRETFILE_DIR: dir });
      const filler = path.join(mnt, "filler");
      fill(filler);
      const r = await runCli(["add", "K", "--replace"], { env, input: "x".repeat(4000), timeoutMs: SLOW_CLI });
      expect([r.code, r.stdout]).toEqual([1, ""]);
      expect(r.stderr).toMatch(
        new RegExp(
          `^secretfile: error: cannot write a temporary file in ${esc(dir)}: ENOSPC; ${esc(store.paths.store)} is unchanged\\nsecretfile: hint: free some space on the filesystem that holds ${esc(dir)}[^\\n]*\\n$`,
        ),
      );
      expect(readFileSync(store.paths.store).equals(before)).toBe(true);
      expect(leftovers(dir)).toEqual({ temps: [], lock: false, takeover: false, other: [] });

      // A first store on the full disk: nothing half-made is left.
      const fresh = path.join(mnt, "fresh");
      const first = await runCli(["add", "K"], {
        env: { ...env, SECRETFILE_DIR: fresh },
        input: "v",
        timeoutMs: SLOW_CLI,
      });
      expect([first.code, first.stdout]).toEqual([1, ""]);
      expect(first.stderr).toMatch(
        /^secretfile: error: cannot create the identity \S+: ENOSPC\nsecretfile: hint: free some space/,
      );
      expect(existsSync(fresh) ? readdirSync(fresh) : []).toEqual([]);

      rmSync(filler);
      const ok = await runCli(["add", "K", "--replace"], { env, input: "new", timeoutMs: SLOW_CLI });
      expect([ok.code, ok.stderr]).toEqual([0, "secretfile: stored K\n"]);
      expect((await readStore(dir)).secrets.K?.value).toBe("new");
    } finally {
      spawnSync("umount", ["-l", mnt]);
    }
  });
});
