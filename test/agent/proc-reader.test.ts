// Reading callers' /proc off the agent's thread: a read that never returns costs its caller a deadline and an
// "unknown" program, never another caller's answer; the helper process reads real /proc and is replaced when stuck.

import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startAgent } from "../../src/agent/agent.js";
import { ProcHelper } from "../../src/agent/proc-helper.js";
import { ProcReader, type ProcessInfo, type ProcSource } from "../../src/agent/proc-reader.js";
import { putSecret } from "../../src/store/operations.js";
import { Store, storePaths } from "../../src/store/store.js";
import { isRoot, tempDir } from "../helpers/cli.js";
import { request, writePolicy } from "../helpers/system.js";

const tmp = tempDir("secretfile-proc-");
afterAll(tmp.cleanup);

const never = () => new Promise<ProcessInfo>(() => undefined);
const quick = (pid: number): Promise<ProcessInfo> => Promise.resolve({ program: `/bin/p${pid}`, cmdline: `p${pid}` });

describe("ProcReader", () => {
  it("answers a read that never returns with 'unknown' at its deadline, and its uid without /proc for a while", async () => {
    const stuck: number[] = [];
    const source: ProcSource = { read: (pid) => (pid === 13 ? never() : quick(pid)), stuck: (uid) => stuck.push(uid) };
    const reader = new ProcReader(source, { deadlineMs: 50, penaltyMs: 60_000 });
    const late = reader.read(13, 1000);
    // Another caller, of another uid, read meanwhile: answered from the source, not after the stuck one.
    const order: string[] = [];
    const other = reader.read(14, 2000).then((i) => (order.push("other"), i));
    const first = late.then((i) => (order.push("stuck"), i));
    expect(await other).toEqual({ program: "/bin/p14", cmdline: "p14" });
    expect((await first).program).toBe("(unknown: /proc did not answer in 50 ms)");
    expect(order).toEqual(["other", "stuck"]);
    expect(stuck).toEqual([1000]);
    // The uid that stalled is not read again (the source is not asked: it answers at once)...
    expect((await reader.read(15, 1000)).program).toBe("(unknown: an earlier /proc read of uid 1000 took over 50 ms)");
    // ...and the others still are.
    expect((await reader.read(16, 2000)).program).toBe("/bin/p16");
  });

  it("reuses a process's read for its next connections within reuseMs (same pid and uid), and no longer", async () => {
    const asked: string[] = [];
    const source: ProcSource = { read: (pid, uid) => (asked.push(`${pid}:${uid}`), quick(pid)) };
    const reader = new ProcReader(source, { deadlineMs: 1_000, penaltyMs: 60_000, reuseMs: 200 });
    // A burst of connections from one process: one read, begun by the first and shared while it is going.
    const burst = await Promise.all([reader.read(21, 1000), reader.read(21, 1000), reader.read(21, 1000)]);
    expect(burst).toEqual(Array(3).fill({ program: "/bin/p21", cmdline: "p21" }));
    expect(await reader.read(21, 1000)).toEqual({ program: "/bin/p21", cmdline: "p21" });
    expect(asked).toEqual(["21:1000"]);
    // The same pid under another uid is another process (the kernel's word): read again.
    await reader.read(21, 2000);
    expect(asked).toEqual(["21:1000", "21:2000"]);
    await new Promise((r) => setTimeout(r, 250));
    await reader.read(21, 1000);
    expect(asked).toEqual(["21:1000", "21:2000", "21:1000"]);
  });

  it("keeps no read that gave 'unknown' (a failure, a deadline, no such process), nor any without reuseMs", async () => {
    let calls = 0;
    const answers = [
      () => Promise.reject(new Error("x")),
      () => Promise.resolve({ program: undefined, cmdline: undefined }),
      () => quick(31),
    ];
    const reader = new ProcReader(
      { read: () => answers[Math.min(calls++, 2)]!() },
      { deadlineMs: 1_000, penaltyMs: 60_000, reuseMs: 60_000 },
    );
    expect((await reader.read(31, 1)).program).toBe("(unknown: /proc could not be read)");
    expect((await reader.read(31, 1)).program).toBeUndefined();
    expect((await reader.read(31, 1)).program).toBe("/bin/p31");
    expect((await reader.read(31, 1)).program).toBe("/bin/p31");
    expect(calls).toBe(3);
    let plain = 0;
    const unkept = new ProcReader({ read: (pid) => (plain++, quick(pid)) }, { deadlineMs: 1_000, penaltyMs: 60_000 });
    await unkept.read(32, 1);
    await unkept.read(32, 1);
    expect(plain).toBe(2);
  });

  it("says why when the source fails", async () => {
    const reader = new ProcReader({ read: () => Promise.reject(new Error("x")) });
    expect((await reader.read(1, 1)).program).toBe("(unknown: /proc could not be read)");
  });
});

describe("ProcHelper", () => {
  it("reads a process's program and command line in a helper process", async () => {
    const helper = new ProcHelper();
    try {
      const child = spawn("/bin/sleep", ["7.25"]);
      const info = await helper.read(child.pid!, 0);
      child.kill();
      expect(info).toEqual({ program: realpathSync("/bin/sleep"), cmdline: "/bin/sleep 7.25" });
      expect((await helper.read(2 ** 22 + 12345, 0)).program).toBeUndefined(); // no such process
    } finally {
      helper.close();
    }
  });

  it("excuses a late read only while it starts", async () => {
    const helper = new ProcHelper();
    try {
      helper.warm();
      const since = performance.now();
      expect(helper.excuse(since)).toBe(true); // starting
      await helper.read(process.pid, 0);
      expect(helper.excuse(since)).toBe(true); // begun before it was ready
      expect(helper.excuse(performance.now())).toBe(false);
    } finally {
      helper.close();
    }
  });

  it("when stuck on a uid's read, is replaced: that uid's reads are 'unknown', the others are sent again and answered", async () => {
    const helper = new ProcHelper();
    try {
      const a = helper.read(process.pid, 1000);
      const b = helper.read(process.pid, 2000);
      helper.stuck(1000); // before either went out: both were pending on the helper that is killed
      expect((await a).program).toBe("(unknown: /proc of uid 1000 did not answer)");
      expect((await b).program).toBe(realpathSync(process.execPath));
      expect((await helper.read(process.pid, 1000)).program).toBe(realpathSync(process.execPath));
    } finally {
      helper.close();
    }
    expect((await helper.read(process.pid, 1)).program).toBe("(unknown: the agent is stopping)");
  });
});

describe.skipIf(!isRoot)(
  "the agent with a caller whose /proc never answers (needs root: the agent's files are root's here)",
  () => {
    it(
      "serves the other callers meanwhile, answers the stuck one after the deadline, and audits its program as unknown",
      { timeout: 60_000 },
      async () => {
        const base = path.join(tmp.dir, "agent");
        for (const [dir, mode] of [
          ["", 0o755],
          ["state", 0o700],
          ["run", 0o755],
          ["log", 0o700],
          ["etc", 0o755],
        ] as const) {
          mkdirSync(path.join(base, dir), { recursive: true });
          chmodSync(path.join(base, dir), mode);
        }
        const paths = {
          dir: path.join(base, "state"),
          socket: path.join(base, "run", "agent.sock"),
          policy: path.join(base, "etc", "policy"),
          audit: path.join(base, "log", "audit.log"),
        };
        writePolicy(paths.policy, "");
        const store = await Store.create(storePaths(paths.dir), { pq: false });
        await store.update((doc) => putSecret(doc, "K", "v-proc", { replace: true }, store.paths.store));
        // A client process that connects and asks; its /proc "never answers" (the source below), as a FUSE-backed
        // command line would make the kernel's read wait.
        const client = spawn(process.execPath, [
          "-e",
          `const c = require("net").createConnection(${JSON.stringify(paths.socket)}); c.on("connect", () => c.write('{"v":1,"op":"get","name":"K"}\\n')); c.on("data", (d) => { process.stdout.write(d); c.end(); });`,
        ]);
        let clientAnswer = "";
        client.stdout.setEncoding("utf8").on("data", (d: string) => (clientAnswer += d));
        const clientDone = new Promise<void>((resolve) => client.once("close", () => resolve()));
        const blocked = client.pid!;
        const real = new ProcHelper();
        const agent = await startAgent({
          paths,
          log: () => undefined,
          env: {},
          proc: {
            source: {
              read: (pid, uid) => (pid === blocked ? never() : real.read(pid, uid)),
              stuck: (uid) => real.stuck(uid),
            },
            deadlines: { deadlineMs: 3_000, penaltyMs: 60_000 },
          },
        });
        try {
          await new Promise((r) => setTimeout(r, 300)); // the client has connected and asked by now (it is not answered yet)
          const answers: string[] = [];
          for (let i = 0; i < 20; i++) {
            const a = await request(paths.socket, { v: 1, op: "get", name: "K" });
            answers.push(String(a.value));
            expect(clientAnswer).toBe(""); // still waiting on its /proc: the others were answered before it
          }
          expect(answers).toEqual(Array(20).fill("v-proc"));
          await clientDone;
          expect(JSON.parse(clientAnswer)).toMatchObject({ ok: true, value: "v-proc" });
          const lines = readFileSync(paths.audit, "utf8")
            .split("\n")
            .filter((l) => l.includes('"op":"get"'))
            .map((l) => JSON.parse(l) as { pid: number; program?: string });
          expect(lines.find((l) => l.pid === blocked)?.program).toBe("(unknown: /proc did not answer in 3000 ms)");
          expect(lines.filter((l) => l.pid === process.pid)[0]?.program).toBe(realpathSync(process.execPath));
        } finally {
          client.kill();
          await agent.close();
          real.close();
        }
      },
    );
  },
);
