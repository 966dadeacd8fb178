// Holes 1 and 14 (add on a terminal) through the agent, under real uids: a write-only admin cannot store a name that
// steers a reader's program, by the CLI or by speaking the protocol itself; exec as a reader or as root never takes
// PATH from an old store; `add` asks the agent whether the name exists before it prompts.
// Rules: the refusal is exit 2 (code "usage") for every caller, audited as refused, the store unchanged.

import { spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { collect, isRoot } from "../../helpers/cli.js";
import {
  NEEDS_ROOT,
  NODE,
  prepareAgent,
  untilReady,
  useSystem,
  type RunningAgent,
  type TestUser,
} from "../../helpers/system.js";
import { setEntry } from "../../../src/store/document.js";
import { Store, storePaths } from "../../../src/store/store.js";

const HOLE_1 = ["PATH", "LD_PRELOAD", "PYTHONPATH", "NODE_OPTIONS", "BASH_ENV", "HTTPS_PROXY", "https_proxy"];
const SLOW = 240_000;

describe.skipIf(!isRoot)(`reserved names through the agent (${NEEDS_ROOT})`, { timeout: SLOW }, () => {
  const sys = useSystem(["admin", "job", "stranger"]);
  let agent: RunningAgent;
  let requests: string;
  let ttyRun: string;

  /** Sends `reqs` to the agent as `who`, speaking the protocol directly; resolves with the answers. */
  type Spoken = { answer?: { ok: boolean; exists?: boolean; error?: { code: string; message: string } } }[];
  async function speak(who: TestUser, reqs: object[]): Promise<Spoken> {
    const child = spawn(NODE, [requests, agent.socket, JSON.stringify(reqs)], {
      uid: who.uid,
      gid: who.gid,
      cwd: sys.world.root,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const r = await collect(child);
    if (r.code !== 0) throw new Error(`agent-requests failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as Spoken;
  }

  /** Runs `secretfile ARGS` against the agent on a pseudo-terminal as `who`. */
  async function onTerminal(who: TestUser, args: string[]): Promise<{ out: string; code: number; prompted: boolean }> {
    const argv = [NODE, sys.world.bin, ...args, "--socket", agent.socket];
    const child = spawn("python3", [ttyRun, JSON.stringify(argv), String(who.uid), String(who.gid)], {
      cwd: sys.world.root,
      env: { PATH: "/usr/bin:/bin", HOME: sys.world.root },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const r = await collect(child, "", 90_000);
    if (r.code !== 0) throw new Error(`tty-run failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as { out: string; code: number; prompted: boolean };
  }

  beforeAll(async () => {
    const { admin, job } = sys.users;
    agent = await sys.startAgent({
      policyText: `write user:${admin.name} *\nread user:${job.name} *\n`,
      secrets: { A_KEY: "a value" },
    });
    requests = sys.world.fixture("agent-requests.mjs");
    ttyRun = sys.world.fixture("tty-run.py");
  });

  it("a write-only admin, a stranger and root each get exit 2 for add of every hole-1 name, and the store is unchanged", async () => {
    const { admin, stranger } = sys.users;
    const before = readFileSync(path.join(agent.dir, "store.age"));
    for (const as of [admin, stranger, undefined]) {
      for (const name of HOLE_1) {
        const r = await agent.run(["add", name], { as, input: "/tmp/evil:/usr/bin:/bin" });
        expect(r.code, `${as?.name ?? "root"} ${name}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toContain(`${name} is a reserved name`);
        expect(r.stderr).toContain(`--map ${name}=APP_${name}`);
      }
    }
    const file = path.join(sys.world.mkdir("imports", 0o755), "job.env");
    writeFileSync(file, "FINE_KEY=fine\nNODE_OPTIONS=--require /tmp/evil.js\n");
    chmodSync(file, 0o644);
    const imported = await agent.run(["import", file], { as: admin });
    expect(imported.code, imported.stderr).toBe(2);
    expect(imported.stderr).toContain(`${file}:2: NODE_OPTIONS is a reserved name`);
    expect(readFileSync(path.join(agent.dir, "store.age")).equals(before)).toBe(true);
  });

  it("a client speaking the protocol directly is refused with code usage, audited as refused, for every caller", async () => {
    const { admin, stranger, job } = sys.users;
    const reqs = [
      { v: 1, op: "add", name: "LD_PRELOAD", value: "/tmp/evil.so" },
      { v: 1, op: "add", name: "https_proxy", value: "http://evil:8080", replace: true },
      {
        v: 1,
        op: "import",
        secrets: [
          { name: "FINE_KEY", value: "x" },
          { name: "PYTHONPATH", value: "/tmp/evil" },
        ],
        replace: true,
      },
      { v: 1, op: "rollback", name: "PATH" },
    ];
    for (const who of [admin, stranger, job]) {
      const answers = await speak(who, reqs);
      expect(
        answers.map((a) => a.answer?.error?.code),
        who.name,
      ).toEqual(["usage", "usage", "usage", "usage"]);
      expect(answers[2]!.answer!.error!.message).toContain("PYTHONPATH is a reserved name");
    }
    const refused = agent
      .auditLines()
      .filter(
        (l) =>
          l.uid === admin.uid &&
          ["add", "import", "rollback"].includes(l.op as string) &&
          (l.names as string[]).some((n) => ["LD_PRELOAD", "https_proxy", "PYTHONPATH", "PATH"].includes(n)),
      );
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused.every((l) => l.allowed === false)).toBe(true);
    const ls = await agent.run(["ls", "--json"], { as: job });
    expect((JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name)).toEqual(["A_KEY"]);
  });

  it("the exists operation answers a writer, refuses anyone else, and is audited", async () => {
    const { admin, job, stranger } = sys.users;
    const ask = (name: string) => ({ v: 1, op: "exists", name });
    const [present, absent] = await speak(admin, [ask("A_KEY"), ask("NO_SUCH_KEY")]);
    expect(present!.answer).toMatchObject({ ok: true, exists: true });
    expect(absent!.answer).toMatchObject({ ok: true, exists: false });
    for (const who of [job, stranger]) {
      const [denied] = await speak(who, [ask("A_KEY")]);
      expect(denied!.answer?.error?.code).toBe("denied");
    }
    expect(agent.auditLines().some((l) => l.op === "exists" && l.uid === admin.uid && l.allowed === true)).toBe(true);
  });

  it("add on a terminal asks the agent first: an existing name is refused before the prompt, a new one is prompted for", async () => {
    const { admin, job } = sys.users;
    const exists = await onTerminal(admin, ["add", "A_KEY"]);
    expect(exists.prompted, exists.out).toBe(false);
    expect(exists.code, exists.out).toBe(1);
    expect(exists.out).toContain("A_KEY already exists");
    const reader = await onTerminal(job, ["add", "A_KEY"]);
    expect(reader.prompted, reader.out).toBe(false);
    expect(reader.code, reader.out).toBe(4);
    const fresh = await onTerminal(admin, ["add", "TTY_KEY"]);
    expect(fresh, fresh.out).toMatchObject({ code: 0, prompted: true });
    expect((await agent.run(["get", "TTY_KEY"], { as: job })).stdout).toBe("typed-at-the-prompt");
  });

  describe("an old store that holds PATH", () => {
    let old: RunningAgent["run"];
    let planted: string;
    let marker: string;

    beforeAll(async () => {
      const { service, job } = sys.users;
      const evil = sys.world.mkdir("evil", 0o755);
      const marks = sys.world.mkdir("marks", 0o777);
      marker = path.join(marks, "planted-ran");
      for (const prog of ["true", "sh"]) {
        writeFileSync(path.join(evil, prog), `#!/bin/sh\necho ran > ${marker}\n`);
        chmodSync(path.join(evil, prog), 0o755);
      }
      planted = evil;
      // Written out, so a plain exec is given PATH by the agent (root's by a rule naming root) and the CLI holds it back.
      const files = await prepareAgent(sys.world, service, {
        policyText: `read user:${job.name} PATH A_KEY\nread user:root PATH A_KEY\n`,
      });
      // What an older version could have stored: written with the store API, past every check, then handed over.
      const made = mkdtempSync(path.join(os.tmpdir(), "secretfile-old-store-"));
      try {
        const store = await Store.create(storePaths(path.join(made, "s")), { pq: false });
        await store.update((doc) => {
          const at = "2025-01-01T00:00:00.000Z";
          setEntry(doc.secrets, "PATH", { value: `${evil}:/usr/bin:/bin`, created: at, updated: at });
          setEntry(doc.secrets, "A_KEY", { value: "a value", created: at, updated: at });
        });
        for (const name of ["identity.txt", "store.age"]) {
          const dest = path.join(files.dir, name);
          copyFileSync(path.join(made, "s", name), dest);
          chownSync(dest, service.uid, service.gid);
          chmodSync(dest, 0o600);
        }
      } finally {
        rmSync(made, { recursive: true, force: true });
      }
      const proc = sys.spawnAgent(files);
      await untilReady(proc, files.socket);
      old = (args, opts = {}) =>
        sys.world.run(args, { ...opts, env: { SECRETFILE_SOCKET: files.socket, ...opts.env } });
    });

    it("a reader's exec -- true and root's exec -- sh -c run the caller's programs, and warn naming PATH", async () => {
      const { job } = sys.users;
      for (const [as, argv] of [
        [job, ["true"]],
        [undefined, ["sh", "-c", "exit 0"]],
      ] as const) {
        const r = await old(["exec", "--", ...argv], { as, env: { PATH: "/usr/bin:/bin" } });
        expect(r.code, r.stderr).toBe(0);
        expect(existsSync(marker), `${planted}/${argv[0]} ran`).toBe(false);
        expect(r.stderr).toMatch(/^secretfile: warning: PATH is not given to the job: it is a reserved name/m);
      }
    });

    it("a reader's --map of the reserved variable is its own choice", async () => {
      const r = await old(["exec", "--map", "SEARCH=PATH", "--", "sh", "-c", 'test "$SEARCH" != ""'], {
        as: sys.users.job,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(marker)).toBe(false);
    });
  });
});
