// The CLI client and an agent that is restarting: while nothing takes the connection, the client tries again for
// about 5 s (the request was never sent); once a connection is made it never sends the request twice; and it never
// hangs. The client's connect(2) calls are traced by the LD_PRELOAD shim, so each test knows what the client did.

import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, runCli, tempDir } from "../../helpers/cli.js";
import { compileShim, hasCC, sleep } from "./support.js";

const work = tempDir("secretfile-faults-client-");
let shim = "";
beforeAll(() => {
  if (hasCC) shim = compileShim(work.dir);
});
afterAll(() => work.cleanup());

let count = 0;
/** A socket path, a trace log, and the environment of a CLI that talks to that socket with its connects traced. */
function setup(): { socket: string; log: string; env: NodeJS.ProcessEnv; attempts: () => string[] } {
  const n = ++count;
  const socket = path.join(work.dir, `agent-${n}.sock`);
  const log = path.join(work.dir, `connect-${n}.log`);
  const env = cleanEnv({
    HOME: work.dir,
    SECRETFILE_SOCKET: socket,
    LD_PRELOAD: shim,
    SFT_FAULT_LOG: log,
    SFT_TRACE_CONNECT: "1",
  });
  const attempts = () =>
    existsSync(log)
      ? readFileSync(log, "utf8")
          .split("\n")
          .filter((l) => l.startsWith(`connect ${socket} `))
      : [];
  return { socket, log, env, attempts };
}

/** Listens on `socket` like an agent; `answer` decides what each connection gets once its request line is in. */
function fakeAgent(
  socket: string,
  answer: (conn: net.Socket, line: string) => void,
): Promise<{ server: net.Server; requests: string[] }> {
  const requests: string[] = [];
  const server = net.createServer((conn) => {
    let buf = "";
    conn.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl === -1) return;
      requests.push(buf.slice(0, nl));
      answer(conn, buf.slice(0, nl));
    });
    conn.on("error", () => undefined);
  });
  return new Promise((resolve) => server.listen(socket, () => resolve({ server, requests })));
}

describe.skipIf(!hasCC)(
  "the CLI client while the agent restarts (needs a C compiler (cc) for the tracing shim; CI has gcc)",
  () => {
    it("a client that finds no agent keeps trying for up to 5 s, and is answered by the agent that comes back", async () => {
      const { socket, env, attempts } = setup();
      const client = runCli(["get", "K"], { env, timeoutMs: 120_000 });
      // The client has tried once and found no socket: now the restarted agent starts listening.
      const started = Date.now();
      while (attempts().length === 0 && Date.now() - started < 30_000) await sleep(5);
      expect(attempts()[0]).toMatch(/ 2$/); // ENOENT
      const agent = await fakeAgent(socket, (conn) =>
        conn.end('{"ok":true,"op":"get","value":"from the new agent"}\n'),
      );
      try {
        const r = await client;
        expect([r.code, r.stdout, r.stderr]).toEqual([0, "from the new agent", ""]);
        expect(attempts().length).toBeGreaterThanOrEqual(2);
        expect(attempts().at(-1)).toMatch(/ 0$/);
        expect(agent.requests).toHaveLength(1);
      } finally {
        agent.server.close();
      }
    });

    it("a request the agent never answers is not sent again: exit 6 at once, saying it may or may not have been done", async () => {
      const { socket, env, attempts } = setup();
      const agent = await fakeAgent(socket, (conn) => conn.destroy());
      try {
        const r = await runCli(["add", "K", "--replace"], { env, input: "v", timeoutMs: 120_000 });
        expect([r.code, r.stdout]).toEqual([6, ""]);
        expect(r.stderr).toMatch(
          /^secretfile: error: the agent at \S+ closed the connection without answering( \(\w+\))?\nsecretfile: hint: the request may or may not have been carried out[^\n]*\n$/,
        );
        expect(attempts()).toEqual([`connect ${socket} 0`]);
        expect(agent.requests).toHaveLength(1);
      } finally {
        agent.server.close();
      }
    });

    it("with no agent at all, the client gives up after about 5 s with exit 6 and says so: no hang", async () => {
      const { env, attempts } = setup();
      const r = await runCli(["get", "K"], { env, timeoutMs: 120_000 });
      expect([r.code, r.stdout]).toEqual([6, ""]);
      expect(r.stderr).toMatch(
        /^secretfile: error: cannot reach the agent at \S+ \(no socket there, tried for [45]\.\d s\)\nsecretfile: hint: [^\n]+\n$/,
      );
      expect(attempts().length).toBeGreaterThanOrEqual(5);
      expect(attempts().every((l) => l.endsWith(" 2"))).toBe(true);
    });
  },
);
