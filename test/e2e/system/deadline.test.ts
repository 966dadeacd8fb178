// Every wait on the agent has a deadline (SECRETFILE_TIMEOUT, 30 s by default), on the native path and on node:net:
// a stand-in agent stopped by SIGSTOP takes the connection and never answers. `get` and `exec` end with exit 6, a
// write says it may have been applied and is sent once only, the restart retry stays inside the deadline, and a bad
// SECRETFILE_TIMEOUT is exit 2.

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, notStarted, ownExit, ROOT, runCli, tempDir } from "../../helpers/cli.js";

const tmp = tempDir("secretfile-deadline-");
afterAll(() => tmp.cleanup());
const FIXTURE = path.join(ROOT, "test", "fixtures", "stand-in-agent.mjs");

/** Starts the stand-in on `socket` and stops it (SIGSTOP) once it listens; `lines()` is what it has printed. */
async function stoppedAgent(socket: string): Promise<{ proc: ChildProcess; lines: () => string[] }> {
  const proc = spawn(process.execPath, [FIXTURE, socket], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  while (!out.includes("ready\n")) await new Promise((r) => setTimeout(r, 10));
  proc.kill("SIGSTOP");
  return { proc, lines: () => out.split("\n").filter((l) => l.startsWith("conn ")) };
}

describe.each([
  ["the native addon", {}],
  ["node:net (SECRETFILE_NATIVE=0)", { SECRETFILE_NATIVE: "0" }],
] as const)("a stopped agent, through %s", (how, extraEnv) => {
  const socket = path.join(tmp.dir, `stopped-${Object.keys(extraEnv).length}.sock`);
  const env = (more: NodeJS.ProcessEnv = {}) =>
    cleanEnv({ HOME: tmp.dir, SECRETFILE_SOCKET: socket, SECRETFILE_TIMEOUT: "1", ...extraEnv, ...more });
  let agent: Awaited<ReturnType<typeof stoppedAgent>>;
  beforeAll(async () => {
    agent = await stoppedAgent(socket);
  });
  afterAll(() => {
    agent.proc.kill("SIGKILL");
  });

  it.for([
    ["get", ["get", "K"]],
    ["exec", ["exec", "--", "true"]],
  ] as const)(`%s ends with exit 6 after SECRETFILE_TIMEOUT (${how})`, async ([, args]) => {
    const r = await runCli([...args], { env: env(), timeoutMs: 20_000 });
    expect([r.code, r.signal, r.stdout]).toEqual([ownExit(args, 6), null, ""]);
    expect(r.stderr).toMatch(
      new RegExp(
        `^secretfile: error: the agent at ${socket.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} did not answer within 1 s \\(SECRETFILE_TIMEOUT\\)\nsecretfile: hint: the agent may be stopped or overloaded[^\n]*\n${args[0] === "exec" ? notStarted(6).replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : ""}$`,
      ),
    );
  });

  it("a write that timed out says it may have been applied, and is sent once only", async () => {
    // An agent of its own: the connections queued at the first one would be counted too.
    const writeSocket = `${socket}.write`;
    const own = await stoppedAgent(writeSocket);
    try {
      const r = await runCli(["add", "K", "--replace"], {
        env: env({ SECRETFILE_SOCKET: writeSocket }),
        input: "value",
        timeoutMs: 20_000,
      });
      expect([r.code, r.stdout]).toEqual([6, ""]);
      expect(r.stderr).toContain(
        "secretfile: hint: the change may have been applied; check with `secretfile ls` before retrying\n",
      );
      expect(r.stderr).not.toContain("value");
      // Let the stand-in run again: it reports every connection the client made, each with the bytes it got.
      own.proc.kill("SIGCONT");
      const started = Date.now();
      while (own.lines().length === 0 && Date.now() - started < 10_000) await new Promise((res) => setTimeout(res, 20));
      await new Promise((res) => setTimeout(res, 300));
      expect(own.lines()).toHaveLength(1);
      expect(Number(own.lines()[0]!.split(" ")[2])).toBeGreaterThan(0);
    } finally {
      own.proc.kill("SIGKILL");
    }
  });
});

describe("SECRETFILE_TIMEOUT", () => {
  it("bounds the wait for an agent that is restarting (the 5 s retry) too", async () => {
    const r = await runCli(["get", "K"], {
      env: cleanEnv({ HOME: tmp.dir, SECRETFILE_SOCKET: path.join(tmp.dir, "none.sock"), SECRETFILE_TIMEOUT: "1" }),
      timeoutMs: 20_000,
    });
    expect([r.code, r.stdout]).toEqual([6, ""]);
    // The client's own account of how long it tried: within the 1 s deadline, not the 5 s of the restart wait.
    expect(r.stderr).toMatch(/cannot reach the agent at \S+ \(no socket there, tried for (0\.\d|1\.0) s\)/);
  });

  it.for(["abc", "0", "-1", "1e3", "90000", " "])(
    "is exit 2 for %j, naming the variable, before any connection",
    async (bad) => {
      const r = await runCli(["get", "K"], {
        env: cleanEnv({ HOME: tmp.dir, SECRETFILE_SOCKET: path.join(tmp.dir, "none.sock"), SECRETFILE_TIMEOUT: bad }),
      });
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toContain("secretfile: error: SECRETFILE_TIMEOUT must be a number of seconds");
    },
  );
});
