// Attack: planting symlinks, FIFOs or foreign files where secretfile opens, creates or removes something (store,
// identity, policy, lock, temporary file, audit log, socket, their folders), or guessing a temporary name. Each is
// refused or handled without following the link: nothing is read from, written to or removed behind it, and nothing
// hangs. Personal mode runs bin/secretfile; system mode a real agent.

import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  watch,
  writeFileSync,
  chownSync,
} from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { removeSandboxes, sandbox } from "../../helpers/personal.js";
import { NEEDS_ROOT, prepareAgent, request, useSystem, writePolicy, type AgentFiles } from "../../helpers/system.js";
import { ready, spawnAgentWith, type Agent } from "./agents.js";

afterAll(removeSandboxes);

/** A folder outside the store holding a file the attacker wants destroyed or overwritten. */
function victim(root: string): { dir: string; file: string; intact: () => boolean } {
  const dir = path.join(root, `victim-${Math.random().toString(16).slice(2)}`);
  mkdirSync(dir);
  const file = path.join(dir, "precious");
  writeFileSync(file, "precious\n");
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(dir, old, old);
  return {
    dir,
    file,
    intact: () => existsSync(file) && readFileSync(file, "utf8") === "precious\n" && readdirSync(dir).length === 1,
  };
}

const mkfifo = (file: string) => expect(spawnSync("mkfifo", [file]).status).toBe(0);

describe("personal mode: planted links and FIFOs", { timeout: 120_000 }, () => {
  it("a symlink planted at the lock (store.age.lock) is not followed: nothing behind it is removed or made", async () => {
    const sb = sandbox({ SECRETFILE_LOCK_STALE_MS: "2000" });
    await sb.add("K", "v");
    const v = victim(sb.root);
    symlinkSync(v.dir, `${sb.store}.lock`);
    const r = await sb.run(["add", "L"], { input: "w", timeoutMs: 30_000 });
    expect(v.intact(), `the folder behind the link was changed: ${readdirSync(v.dir).join(",")}; ${r.stderr}`).toBe(
      true,
    );
    expect(r.signal, "it ends by itself, within 30 s").toBeNull();
    if (r.code !== 0) expect(r.stderr).toContain(`${sb.store}.lock`);
  });

  it("a dangling symlink planted at the lock does not make its target", async () => {
    const sb = sandbox({ SECRETFILE_LOCK_STALE_MS: "2000" });
    await sb.add("K", "v");
    const target = path.join(sb.root, "made-through-the-link");
    symlinkSync(target, `${sb.store}.lock`);
    const r = await sb.run(["add", "L"], { input: "w", timeoutMs: 30_000 });
    expect(existsSync(target), r.stderr).toBe(false);
    expect(r.signal, "it ends by itself").toBeNull();
  });

  it("symlinks planted at temporary names (guessed, or left-over-looking) are not written through", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const v = victim(sb.root);
    const names = [
      ".store.age.tmp",
      "store.age.tmp",
      "store.age.new",
      "store.age~",
      ".store.age.tmp-0000000000000000",
      ".store.age.tmp-ffffffffffffffff",
      ".store.age.swp",
    ];
    for (const n of names) symlinkSync(v.file, path.join(sb.dir, n));
    for (let i = 0; i < 3; i++) await sb.add(`K${i}`, `v${i}`);
    expect(v.intact()).toBe(true);
    expect(await sb.run(["get", "K2"])).toMatchObject({ code: 0, stdout: "v2" });
  });

  it("temporary names are unpredictable: 16 random hex digits, never the same twice", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const seen: string[] = [];
    const watcher = watch(sb.dir, (_event, name) => {
      if (typeof name === "string" && name.includes(".tmp") && !seen.includes(name)) seen.push(name);
    });
    try {
      for (let i = 0; i < 12; i++) await sb.add(`N${i}`, "x");
    } finally {
      watcher.close();
    }
    expect(seen.length, "one temporary file a write").toBeGreaterThanOrEqual(12);
    for (const n of seen) expect(n).toMatch(/^\.store\.(age|seen)\.tmp-[0-9a-f]{16}$/);
    expect(new Set(seen.map((n) => n.slice(-16))).size).toBe(seen.length);
  });

  it.for(["identity.txt", "store.age"])(
    "a FIFO planted at %s is refused at once (exit 4), not waited on",
    async (name) => {
      const sb = sandbox();
      await sb.add("K", "v");
      unlinkSync(path.join(sb.dir, name));
      mkfifo(path.join(sb.dir, name));
      const t0 = Date.now();
      const r = await sb.run(["get", "K"], { timeoutMs: 20_000 });
      expect(r.signal, "killed: it hung on the FIFO").toBeNull();
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain("is not a regular file");
      expect(Date.now() - t0).toBeLessThan(15_000);
    },
  );
});

describe.skipIf(!isRoot)(`system mode: planted links, FIFOs and sockets (${NEEDS_ROOT})`, { timeout: 120_000 }, () => {
  const sys = useSystem(["job"]);
  let files: AgentFiles;
  const secret = "s3cr3t-value-for-links";
  const identity = () => path.join(files.dir, "identity.txt");
  const store = () => path.join(files.dir, "store.age");

  beforeAll(async () => {
    files = await prepareAgent(sys.world, sys.users.service, {
      policyText: `read user:${sys.users.job.name} K\n`,
      secrets: { K: secret },
    });
    await (await ready(spawnAgentWith(sys, files))).stop(); // makes the audit log
  });

  /** Starts an agent on `over` (default: the shared files) and resolves with how it ended; it must end within 20 s. */
  const refusal = async (over: Partial<AgentFiles> = {}) => {
    const agent = spawnAgentWith(sys, { ...files, ...over });
    const timer = setTimeout(() => void agent.stop(), 20_000);
    const end = await agent.exited;
    clearTimeout(timer);
    return { ...end, stderr: agent.stderr() };
  };

  /** Replaces `file` by a symlink to a same-owner copy for the length of `fn`. */
  const swapForLink = async <T>(file: string, fn: () => Promise<T>): Promise<T> => {
    const real = `${file}.real`;
    renameSync(file, real);
    symlinkSync(real, file);
    try {
      return await fn();
    } finally {
      unlinkSync(file);
      renameSync(real, file);
    }
  };

  it.for([
    ["identity", "refusing to follow a symlink at the identity"],
    ["store", "refusing to follow a symlink at the store"],
    ["policy", "refusing to follow a symlink at policy file"],
    ["audit log", "refusing to follow a symlink at the audit log"],
  ] as const)("a symlink at the %s: the agent refuses to start (exit 4)", async ([what, message]) => {
    const file =
      what === "identity" ? identity() : what === "store" ? store() : what === "policy" ? files.policy : files.audit;
    const end = await swapForLink(file, () => refusal());
    expect(end.code, end.stderr).toBe(4);
    expect(end.stderr).toContain(message);
  });

  it.for(["identity", "store", "policy", "audit log"] as const)(
    "a FIFO at the %s: refused at once (exit 4), not waited on",
    async (what) => {
      const file =
        what === "identity" ? identity() : what === "store" ? store() : what === "policy" ? files.policy : files.audit;
      renameSync(file, `${file}.real`);
      mkfifo(file);
      if (what !== "policy") chownSync(file, sys.users.service.uid, sys.users.service.gid);
      let end;
      try {
        end = await refusal();
      } finally {
        unlinkSync(file);
        renameSync(`${file}.real`, file);
      }
      expect(end.signal, `killed: the agent hung on the FIFO: ${end.stderr}`).toBeNull();
      expect(end.code, end.stderr).toBe(4);
      expect(end.stderr).toMatch(/not a (private )?regular file/);
    },
  );

  it("a state folder that is a symlink: refused (exit 4)", async () => {
    const link = path.join(files.base, "state-link");
    symlinkSync(files.dir, link);
    const end = await refusal({ dir: link });
    expect(end.code, end.stderr).toBe(4);
    expect(end.stderr).toContain("it is a symlink");
  });

  it("a symlink, a file or a folder link at the socket path: refused (exit 4), the target untouched", async () => {
    const v = victim(files.base);
    symlinkSync(v.file, files.socket);
    let end = await refusal();
    unlinkSync(files.socket);
    expect(end.code, end.stderr).toBe(4);
    expect(end.stderr).toContain("it is not a socket");
    expect(v.intact()).toBe(true);

    writeFileSync(files.socket, "not a socket");
    end = await refusal();
    unlinkSync(files.socket);
    expect(end.code, end.stderr).toBe(4);

    const runLink = path.join(files.base, "run-link");
    symlinkSync(path.dirname(files.socket), runLink);
    end = await refusal({ socket: path.join(runLink, "agent.sock") });
    expect(end.code, end.stderr).toBe(4);
    expect(end.stderr).toContain("refusing the socket folder");
  });

  it("another user's socket already at the path (an impostor): neither replaced nor removed (exit 4)", async () => {
    const impostor = net.createServer((c) => {
      c.on("error", () => undefined);
      c.end('{"ok":true,"op":"get","value":"from the impostor"}\n', () => c.destroy());
    });
    await new Promise<void>((resolve, reject) => impostor.once("error", reject).listen(files.socket, resolve));
    try {
      chmodSync(files.socket, 0o666);
      const end = await refusal();
      expect(end.code, end.stderr).toBe(4);
      expect(end.stderr).toContain(`refusing to replace ${files.socket}: it is a socket of uid 0`);
      expect(
        (await request(files.socket, { v: 1, op: "ping" })).value,
        "the impostor still answers: its socket was not removed",
      ).toBe("from the impostor");
    } finally {
      impostor.close();
      if (existsSync(files.socket)) unlinkSync(files.socket);
    }
  });

  it("a second agent on a live agent's socket: refused (exit 1), the first keeps serving", async () => {
    const first = await ready(spawnAgentWith(sys, files));
    try {
      const end = await refusal();
      expect(end.code, end.stderr).toBe(1);
      expect(end.stderr).toContain("another agent is already listening");
      expect((await request(files.socket, { v: 1, op: "get", name: "K" })).value).toBe(secret);
    } finally {
      await first.stop();
    }
  });

  describe("while the agent runs", () => {
    let agent: Agent;
    beforeAll(async () => {
      agent = await ready(spawnAgentWith(sys, files));
    });
    afterAll(() => agent.stop());

    const getAsJob = () => sys.world.run(["get", "K"], { as: sys.users.job, env: { SECRETFILE_SOCKET: agent.socket } });

    it("store.age swapped for a symlink to a valid copy: no value is served through it; back, served again", async () => {
      expect(await getAsJob()).toMatchObject({ code: 0, stdout: secret });
      const r = await swapForLink(store(), getAsJob);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("refusing to follow a symlink at the store");
      expect(await getAsJob()).toMatchObject({ code: 0, stdout: secret });
    });

    it("the policy swapped for a symlink to a root-owned policy granting everything: the agent fails closed", async () => {
      const generous = path.join(path.dirname(files.policy), "generous");
      writePolicy(generous, `read user:${sys.users.job.name} *\n`);
      const original = readFileSync(files.policy, "utf8");
      const aside = `${files.policy}.aside`;
      copyFileSync(files.policy, aside);
      unlinkSync(files.policy);
      symlinkSync(generous, files.policy);
      try {
        const r = await getAsJob();
        expect(r.code, r.stderr).toBe(4);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain("the agent refuses every request until the policy is fixed");
        expect((await request(agent.socket, { v: 1, op: "get", name: "K" })).ok, "root is still served").toBe(true);
      } finally {
        unlinkSync(files.policy);
        writePolicy(files.policy, original);
        unlinkSync(aside);
      }
      expect(await getAsJob()).toMatchObject({ code: 0, stdout: secret });
    });
  });
});
