// System mode on a failing disk: the agent's write fails at each step (LD_PRELOAD shim on the agent), and on a real full
// tmpfs. The client gets the agent's clear error (exit 1, the store file named, what to do), the store is intact, nothing
// is left in the state folder, and the agent keeps serving.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem, type AgentFiles } from "../../helpers/system.js";
import {
  compileShim,
  faultEnv,
  figure,
  fill,
  hasCC,
  launchAgent,
  leftovers,
  mountTmpfs,
  prepareFiles,
  readStore,
  type Agent,
} from "./support.js";

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One failing step per agent, each with another error code. */
const CASES = [
  {
    step: "create the temporary file",
    op: "create",
    code: "ENOSPC",
    line: (s: string, d: string) => `cannot create a temporary file in ${d}: ENOSPC; ${s} is unchanged`,
  },
  {
    step: "write it",
    op: "write",
    code: "EIO",
    line: (s: string, d: string) => `cannot write a temporary file in ${d}: EIO; ${s} is unchanged`,
  },
  {
    step: "fsync it",
    op: "fsync",
    code: "EIO",
    line: (s: string, d: string) => `cannot fsync a temporary file in ${d}: EIO; ${s} is unchanged`,
  },
  {
    step: "rename it",
    op: "rename",
    code: "EACCES",
    line: (s: string, d: string) => `cannot rename the new store.age into ${d}: EACCES; ${s} is unchanged`,
  },
  {
    step: "take the lock",
    op: "mkdir",
    code: "ENOSPC",
    match: "store.age.lock",
    line: (s: string) => `cannot lock ${s}: ENOSPC`,
  },
] as const;

describe.skipIf(!isRoot || !hasCC)(
  `system mode: the agent's write fails (${isRoot ? "needs a C compiler (cc) for the fault shim; CI has gcc" : NEEDS_ROOT})`,
  { timeout: 300_000 },
  () => {
    const sys = useSystem(["admin"]);
    const policyFor = () => `read user:${sys.users.admin.name} *\nwrite user:${sys.users.admin.name} *\n`;

    it("at each step: exit 1 with the agent's message, the store intact, nothing left behind, the agent still serving", async (ctx) => {
      const shim = compileShim(sys.world.root);
      let fired = 0;
      await Promise.all(
        CASES.map(async (c) => {
          const files = await prepareFiles(sys.world, sys.users.service, policyFor(), { K: "old" });
          const store = path.join(files.dir, "store.age");
          const before = readFileSync(store);
          const log = path.join(files.base, "run", "fault.log");
          const agent = await launchAgent(
            sys.world,
            sys.users.service,
            files,
            faultEnv(shim, c.op, c.code, log, "match" in c ? c.match : undefined),
          );
          try {
            const env = { SECRETFILE_SOCKET: files.socket };
            const r = await sys.world.run(["add", "K", "--replace"], { as: sys.users.admin, env, input: "new" });
            expect(existsSync(log) ? readFileSync(log, "utf8") : "", `${c.step}: the shim never fired`).toContain(
              `${c.op} `,
            );
            fired++;
            expect([r.code, r.stdout], `${c.step}: ${r.stderr}`).toEqual([1, ""]);
            expect(r.stderr).toMatch(
              new RegExp(`^secretfile: error: ${esc(c.line(store, files.dir))}\\nsecretfile: hint: [^\\n]+\\n$`),
            );
            expect(readFileSync(store).equals(before), `${c.step}: the store changed`).toBe(true);
            expect(leftovers(files.dir), c.step).toEqual({ temps: [], lock: false, takeover: false, other: [] });
            // Still serving: reads work while the disk is "broken".
            expect(await sys.world.run(["get", "K"], { as: sys.users.admin, env })).toMatchObject({
              code: 0,
              stdout: "old",
            });
          } finally {
            await agent.stop();
          }
        }),
      );
      await ctx.annotate(figure("agent write faults injected", { cases: CASES.length, fired }));
    });

    it("on a full tmpfs: exit 1 with ENOSPC, the store intact; once space is freed the same agent writes again", async (ctx) => {
      const files = await prepareFiles(sys.world, sys.users.service, policyFor(), { K: "old" });
      const { service } = sys.users;
      const mnt = path.join(files.base, "state-tmpfs");
      const cannot = mountTmpfs(mnt, "512k", service);
      if (cannot !== undefined) {
        ctx.skip(cannot);
        return;
      }
      let agent: Agent | undefined;
      try {
        for (const name of ["identity.txt", "store.age"])
          cpSync(path.join(files.dir, name), path.join(mnt, name), { preserveTimestamps: true });
        spawnSync("chown", [
          `${service.uid}:${service.gid}`,
          path.join(mnt, "identity.txt"),
          path.join(mnt, "store.age"),
        ]);
        spawnSync("chmod", ["0600", path.join(mnt, "store.age")]);
        spawnSync("chmod", ["0400", path.join(mnt, "identity.txt")]);
        const onTmpfs: AgentFiles = { ...files, dir: mnt };
        agent = await launchAgent(sys.world, service, onTmpfs);
        const store = path.join(mnt, "store.age");
        const before = readFileSync(store);
        const filler = path.join(mnt, "filler");
        fill(filler);
        const env = { SECRETFILE_SOCKET: files.socket };
        const r = await sys.world.run(["add", "K", "--replace"], { as: sys.users.admin, env, input: "x".repeat(4000) });
        expect([r.code, r.stdout], r.stderr).toEqual([1, ""]);
        expect(r.stderr).toMatch(
          new RegExp(
            `^secretfile: error: cannot write a temporary file in ${esc(mnt)}: ENOSPC; ${esc(store)} is unchanged\\nsecretfile: hint: free some space`,
          ),
        );
        expect(readFileSync(store).equals(before)).toBe(true);
        expect(leftovers(mnt)).toEqual({ temps: [], lock: false, takeover: false, other: ["filler"] });
        rmSync(filler);
        const ok = await sys.world.run(["add", "K", "--replace"], { as: sys.users.admin, env, input: "new" });
        expect(ok.code, ok.stderr).toBe(0);
        expect((await readStore(mnt)).secrets.K?.value).toBe("new");
      } finally {
        await agent?.stop();
        spawnSync("umount", ["-l", mnt]);
      }
    });

    it("on a slow disk: a write that takes longer than the idle limit is answered, not dropped", async () => {
      const shim = compileShim(sys.world.root);
      const files = await prepareFiles(sys.world, sys.users.service, policyFor(), { K: "old" });
      const log = path.join(files.base, "run", "slow.log");
      // The idle limit is 300 ms; every fsync of the new store takes 1.5 s.
      const env = {
        ...faultEnv(shim, "slowsync", "EIO", log),
        SFT_FAULT_DELAY_MS: "1500",
        SECRETFILE_AGENT_LIMITS: "idleMs=300",
      };
      const agent = await launchAgent(sys.world, sys.users.service, files, env);
      try {
        const client = { SECRETFILE_SOCKET: files.socket };
        const r = await sys.world.run(["add", "K", "--replace"], { as: sys.users.admin, env: client, input: "new" });
        expect(readFileSync(log, "utf8"), "the shim never slowed a write").toContain("slowsync 1500");
        expect([r.code, r.stderr]).toEqual([0, expect.not.stringContaining("error")]);
        expect((await readStore(files.dir)).secrets.K?.value).toBe("new");
      } finally {
        await agent.stop();
      }
    });
  },
);
