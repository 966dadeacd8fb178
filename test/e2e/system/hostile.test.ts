// System mode end to end, invariant 4: whatever bytes clients send (garbage, oversize, slow, half-closed, thousands of
// connections) the agent answers with an error or drops that connection, keeps serving everyone else, and never
// mixes one caller's answer into another's.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { collect, isRoot } from "../../helpers/cli.js";
import {
  NEEDS_ROOT,
  NODE,
  request,
  rssKiB,
  useSystem,
  type RunningAgent,
  type TestUser,
} from "../../helpers/system.js";

/** The agent's default idle time (server.ts DEFAULT_LIMITS.idleMs). */
const IDLE_MS = 10_000;
const value = (tag: string) => `${tag}-${randomBytes(16).toString("hex")}`;

/** A raw connection to the agent: what came back, and when it closed. */
interface Raw {
  sock: net.Socket;
  received: () => string;
  connected: Promise<void>;
  closed: Promise<void>;
  isClosed: () => boolean;
  /** When it closed (Date.now()), 0 while open. */
  closedAt: () => number;
}

function rawConnect(socket: string): Raw {
  const sock = net.createConnection(socket);
  let data = "";
  let closed = 0;
  sock.setEncoding("utf8");
  sock.on("data", (d: string) => (data += d));
  sock.on("error", () => undefined); // EPIPE/ECONNRESET when the agent drops us: expected
  const connected = new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  const done = new Promise<void>((resolve) =>
    sock.once("close", () => {
      closed = Date.now();
      resolve();
    }),
  );
  return { sock, received: () => data, connected, closed: done, isClosed: () => closed !== 0, closedAt: () => closed };
}

/** Resolves when `p` settles or after `ms`, whichever is first; returns whether `p` settled. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(true);
      },
    );
  });
}

/** Parses newline-terminated JSON answers; throws on a line that is not one. */
function answers(text: string): { ok: unknown; value?: string; error?: { code: string } }[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { ok: unknown; value?: string; error?: { code: string } });
}

describe.skipIf(!isRoot)(`system agent under hostile clients (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["jobA", "jobB"]);
  const secrets = { A_KEY: value("a"), B_KEY: value("b") };
  let agent: RunningAgent;
  let slow: Raw;
  let slowOpenedAt = 0;

  /** A well-behaved root client on the socket and the CLI as jobA: both must get the right value now. */
  const wellBehaved = async () => {
    const [direct, cli] = await Promise.all([
      request(agent.socket, { v: 1, op: "get", name: "B_KEY" }, 5_000),
      agent.run(["get", "A_KEY"], { as: sys.users.jobA, timeoutMs: 15_000 }),
    ]);
    expect(direct).toEqual({ ok: true, op: "get", value: secrets.B_KEY });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(secrets.A_KEY);
  };

  beforeAll(async () => {
    const { jobA, jobB } = sys.users;
    agent = await sys.startAgent({
      policyText: `read user:${jobA.name} A_KEY\nread user:${jobB.name} B_KEY\n`,
      secrets,
    });
  });

  it("serves others while a connection sends half a request and waits", async () => {
    slow = rawConnect(agent.socket);
    await slow.connected;
    slowOpenedAt = Date.now();
    slow.sock.write('{"v":1,"op":"get","na');
    await wellBehaved();
    expect(slow.isClosed()).toBe(false); // dropped only after the idle time: checked in the last test
  });

  it("survives a few hundred connections of random bytes", async () => {
    let next = 0;
    let gotError = 0;
    const worker = async () => {
      while (next < 300) {
        next++;
        const c = rawConnect(agent.socket);
        await c.connected.catch(() => undefined);
        c.sock.end(randomBytes(64 + Math.floor(Math.random() * 8192)));
        if (!(await within(c.closed, 5_000))) c.sock.destroy();
        if (c.received().includes('"ok":false')) gotError++;
      }
    };
    const good = wellBehaved();
    await Promise.all(Array.from({ length: 20 }, worker));
    await good;
    expect(gotError).toBeGreaterThan(0); // garbage is answered with errors, not silence
    await wellBehaved();
  });

  it("answers a 4 MiB line without a newline with an error, or drops it, and stays up", async () => {
    const big = rawConnect(agent.socket);
    await big.connected;
    big.sock.write(Buffer.alloc(4 * 1024 * 1024, "a"));
    await wellBehaved();
    expect(await within(big.closed, 10_000), "the oversize connection is dropped").toBe(true);
    const got = answers(big.received());
    expect(got.every((a) => a.ok === false)).toBe(true);
    if (got.length > 0) expect(got[0]!.error?.code).toBe("usage");
    await wellBehaved();
  });

  it("answers malformed requests under the size limit with errors on the same connection", async () => {
    const bad = [
      "[".repeat(400_000), // deep nesting, just under the 512 KiB limit
      "\u0000\u00ff not json",
      "null",
      "[1,2,3]",
      JSON.stringify({ v: 2, op: "get", name: "A_KEY" }),
      JSON.stringify({ v: 1, op: "get", name: "../../etc/passwd" }),
      JSON.stringify({ v: 1, op: "values", names: "A_KEY" }),
      JSON.stringify({ v: 1, op: "add", name: "A_KEY", value: 42 }),
      JSON.stringify({ v: 1, op: "nope" }),
      JSON.stringify({ v: 1, op: "get", name: "A_KEY", __proto__: { ok: true } }),
    ];
    const c = rawConnect(agent.socket);
    await c.connected;
    c.sock.end(bad.map((l) => `${l}\n`).join(""));
    expect(await within(c.closed, 10_000)).toBe(true);
    const got = answers(c.received());
    expect(got).toHaveLength(bad.length);
    got
      .slice(0, -1)
      .forEach((a, i) => expect(a, bad[i]!.slice(0, 40)).toMatchObject({ ok: false, error: { code: "usage" } }));
    expect(got.at(-1)).toEqual({ ok: true, op: "get", value: secrets.A_KEY }); // an extra key is ignored, not obeyed
    await wellBehaved();
  });

  it("serves others while 500 idle connections are held open", async () => {
    const idle: Raw[] = [];
    for (let i = 0; i < 500; i += 50) {
      const batch = Array.from({ length: 50 }, () => rawConnect(agent.socket));
      await Promise.all(batch.map((c) => c.connected));
      idle.push(...batch);
    }
    await wellBehaved();
    expect(idle.filter((c) => c.isClosed())).toHaveLength(0);
    idle.forEach((c) => c.sock.destroy());
    await wellBehaved();
  });

  it("answers many pipelined requests on one connection in order", async () => {
    const reqs = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0
        ? { v: 1, op: "get", name: "A_KEY" }
        : i % 3 === 1
          ? { v: 1, op: "ping" }
          : { v: 1, op: "get", name: "NO_SUCH_KEY" },
    );
    const c = rawConnect(agent.socket);
    await c.connected;
    c.sock.write(reqs.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const started = Date.now();
    while (answers(c.received()).length < reqs.length && Date.now() - started < 10_000)
      await new Promise((r) => setTimeout(r, 20));
    const got = answers(c.received());
    expect(got).toHaveLength(reqs.length);
    got.forEach((a, i) => {
      if (i % 3 === 0) expect(a).toEqual({ ok: true, op: "get", value: secrets.A_KEY });
      else if (i % 3 === 1) expect(a).toMatchObject({ ok: true, op: "ping" });
      else expect(a).toMatchObject({ ok: false, error: { code: "not-found" } });
    });
    c.sock.destroy();

    // Far more than the agent queues: answers or an error, then a drop; never a crash.
    const flood = rawConnect(agent.socket);
    await flood.connected;
    flood.sock.write(`${JSON.stringify({ v: 1, op: "ping" })}\n`.repeat(5_000));
    expect(await within(flood.closed, 10_000), "the flooding connection ends").toBe(true);
    expect(() => answers(flood.received())).not.toThrow();
    await wellBehaved();
  });

  it("answers a client that half-closes after sending its request", async () => {
    for (let i = 0; i < 5; i++) {
      const c = rawConnect(agent.socket);
      await c.connected;
      c.sock.end(`${JSON.stringify({ v: 1, op: "get", name: "A_KEY" })}\n`);
      expect(await within(c.closed, 5_000)).toBe(true);
      expect(answers(c.received())).toEqual([{ ok: true, op: "get", value: secrets.A_KEY }]);
    }
  });

  it("survives 2000 sequential connections", async () => {
    for (let i = 0; i < 2000; i++) {
      const c = rawConnect(agent.socket);
      await c.connected;
      if (i % 2 === 0) {
        c.sock.destroy(); // connect and leave at once
        continue;
      }
      c.sock.end(`${JSON.stringify({ v: 1, op: "ping" })}\n`);
      await c.closed;
      // Answered: a pong, or `busy` once this uid is past its request rate (the agent is fast enough for that now).
      const answer = answers(c.received())[0];
      expect(answer?.ok === true || answer?.error?.code === "busy", `connection ${i}: ${JSON.stringify(answer)}`).toBe(
        true,
      );
    }
    await wellBehaved();
  });

  it("never mixes answers between two uids making 200 interleaved concurrent requests each", async () => {
    const { jobA, jobB } = sys.users;
    const client = sys.world.fixture("agent-requests.mjs");
    const mine = { A_KEY: jobA, B_KEY: jobB } as const;
    const plan = (own: "A_KEY" | "B_KEY", theirs: "A_KEY" | "B_KEY") =>
      Array.from({ length: 200 }, (_, i) =>
        i % 4 === 3
          ? { v: 1, op: "get", name: theirs }
          : i % 4 === 2
            ? { v: 1, op: "values" }
            : { v: 1, op: "get", name: own },
      );
    const startAt = Date.now() + 1_500;
    const run = (user: TestUser, reqs: object[]) =>
      collect(
        spawn(NODE, [client, agent.socket, JSON.stringify(reqs), String(startAt)], {
          uid: user.uid,
          gid: user.gid,
          cwd: sys.world.root,
        }),
        undefined,
        30_000,
      );
    const [a, b] = await Promise.all([
      run(mine.A_KEY, plan("A_KEY", "B_KEY")),
      run(mine.B_KEY, plan("B_KEY", "A_KEY")),
    ]);
    for (const [own, theirs, r] of [
      ["A_KEY", "B_KEY", a],
      ["B_KEY", "A_KEY", b],
    ] as const) {
      expect(r.code, r.stderr).toBe(0);
      const results = JSON.parse(r.stdout) as {
        answer?: { ok: boolean; value?: string; values?: Record<string, string>; error?: { code: string } };
      }[];
      expect(results).toHaveLength(200);
      results.forEach((res, i) => {
        if (i % 4 === 3) expect(res.answer, `${own} #${i}`).toMatchObject({ ok: false, error: { code: "denied" } });
        else if (i % 4 === 2)
          expect(res.answer, `${own} #${i}`).toEqual({ ok: true, op: "values", values: { [own]: secrets[own] } });
        else expect(res.answer, `${own} #${i}`).toEqual({ ok: true, op: "get", value: secrets[own] });
      });
      expect(r.stdout).not.toContain(secrets[theirs]);
    }
  });

  it("is still alive, with a reasonable RSS, and has dropped the half-sent request after the idle time", async () => {
    expect(agent.alive(), agent.stderr()).toBe(true);
    expect(rssKiB(agent.pid)).toBeLessThan(300 * 1024);
    const wait = slowOpenedAt + IDLE_MS + 1_500 - Date.now();
    expect(
      await within(slow.closed, Math.max(wait, 0) + 2_000),
      "the half-sent request is dropped after the idle time",
    ).toBe(true);
    expect(slow.closedAt() - slowOpenedAt, "not dropped before the idle time").toBeGreaterThanOrEqual(IDLE_MS - 500);
    await wellBehaved();
    expect(agent.stderr()).not.toContain(secrets.A_KEY);
    expect(agent.stderr()).not.toContain(secrets.B_KEY);
  });
});
