// No secretfile process ever runs with Node's inspector: SIGUSR1 (Node's signal to open one on 127.0.0.1:9229) opens
// nothing, in a CLI command waiting for its input or in the agent, nor, in the agent as the package's units start its
// runtime (--disable-sigusr1), during Node's own start-up; and a process started with one (flags, NODE_OPTIONS) is
// exit 1 saying why before it reads a store or asks the agent.

import { spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errnoOf } from "../../../src/system/errno.js";
import { agentStartFlags } from "../../../src/setup/units.js";
import { BIN, collect, isRoot } from "../../helpers/cli.js";
import { removeSandboxes, sandbox, sleep, type Sandbox } from "../../helpers/personal.js";
import { NO_PACKAGE_RUNTIME, PACKAGE_RUNTIME } from "../../helpers/runtime.js";
import { NEEDS_ROOT, prepareAgent, untilReady, useSystem } from "../../helpers/system.js";

afterAll(removeSandboxes);

/** Returns the TCP sockets in LISTEN state that `pid` holds (from its fds and /proc/net/tcp, tcp6). */
function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: "utf8" });
    } catch (err) {
      if (errnoOf(err) === "ENOENT") continue; // closed since the listing: not a socket it holds now
      throw err;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m !== null) inodes.add(m[1]!);
  }
  const listening: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9] ?? "")) listening.push(`${table} ${f[1]}`);
    }
  }
  return listening;
}

/** Resolves once `pid` has slept (state S) at ten samples in a row, 50 ms apart: it waits for input. */
async function untilIdle(pid: number): Promise<void> {
  for (let idle = 0, tries = 0; idle < 10 && tries < 1_000; tries++) {
    await sleep(50);
    const state = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0];
    idle = state === "S" ? idle + 1 : 0;
  }
}

/** Resolves once `check` holds, polled every 10 ms; throws after 30 s. */
async function until(check: () => boolean): Promise<void> {
  for (const end = Date.now() + 30_000; !check();) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${check.toString()}`);
    await sleep(10);
  }
}

/**
 * True once signal number `signo` sent to `pid` has been dealt with: delivered (no longer pending), or blocked by every
 * thread, so that nothing in the process will ever act on it.
 */
function dealtWith(pid: number, signo: number): boolean {
  const bit = 1n << BigInt(signo - 1);
  const mask = (status: string, field: string) =>
    BigInt(`0x${new RegExp(`^${field}:\\s*(\\w+)`, "m").exec(status)![1]}`) & bit;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  if (mask(status, "ShdPnd") === 0n) return true;
  return readdirSync(`/proc/${pid}/task`).every(
    (t) => mask(readFileSync(`/proc/${pid}/task/${t}/status`, "utf8"), "SigBlk") !== 0n,
  );
}

/** Returns true when something accepts a TCP connection on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return import("node:net").then(
    (net) =>
      new Promise((resolve) => {
        const c = net.createConnection({ host: "127.0.0.1", port });
        c.once("connect", () => {
          c.destroy();
          resolve(true);
        });
        c.once("error", () => resolve(false));
      }),
  );
}

describe("a CLI command and Node's inspector", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = sandbox();
    await sb.init();
    await sb.add("K", "the-secret-value");
  });

  it.for([
    [
      "NODE_OPTIONS=--inspect=127.0.0.1:0",
      [],
      { NODE_OPTIONS: "--inspect=127.0.0.1:0" },
      "NODE_OPTIONS holds --inspect",
    ],
    ["NODE_OPTIONS=--inspect-port=0", [], { NODE_OPTIONS: "--inspect-port=0" }, "NODE_OPTIONS holds --inspect-port"],
    ["node --inspect=127.0.0.1:0", ["--inspect=127.0.0.1:0"], {}, "node was started with --inspect"],
    ["node --inspect-port=0", ["--inspect-port=0"], {}, "node was started with --inspect-port"],
  ] as const)("%s: get is exit 1 with no value, saying why", async ([, nodeArgs, env, why]) => {
    const child = spawn(process.execPath, [...nodeArgs, BIN, "get", "K"], {
      env: { ...sb.env, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const r = await collect(child, "", 30_000);
    expect([r.code, r.stdout]).toEqual([1, ""]);
    expect(r.stderr).toContain(`secretfile: error: refusing to run with Node's inspector: ${why}`);
    expect(r.stderr).not.toContain("the-secret-value");
  });

  it("SIGUSR1 to `add` waiting for its value opens no inspector, and the command goes on", async () => {
    const child = spawn(process.execPath, [BIN, "add", "K2"], { env: sb.env, stdio: ["pipe", "pipe", "pipe"] });
    await untilIdle(child.pid!); // past start-up: it now waits on standard input
    child.kill("SIGUSR1");
    await sleep(1_000);
    expect(child.exitCode).toBe(null);
    expect(listeningSockets(child.pid!)).toEqual([]);
    expect(await accepts(9229)).toBe(false);
    const r = await collect(child, "value-2", 30_000);
    expect([r.code, r.stderr]).toEqual([0, "secretfile: added K2\n"]);
  });
});

describe.skipIf(!isRoot)(`the agent and Node's inspector (${isRoot ? "" : NEEDS_ROOT})`, () => {
  const sys = useSystem(["job"]);

  it("SIGUSR1 to the agent opens no inspector, and it keeps serving", async () => {
    const agent = await sys.startAgent({ policyText: `read user:${sys.users.job.name} K\n`, secrets: { K: "v1" } });
    agent.kill("SIGUSR1");
    await sleep(1_000);
    expect(agent.alive()).toBe(true);
    expect(listeningSockets(agent.pid)).toEqual([]);
    expect(await accepts(9229)).toBe(false);
    const r = await agent.run(["get", "K"], { as: sys.users.job });
    expect([r.code, r.stdout]).toEqual([0, "v1"]);
  });
});

describe.skipIf(!isRoot || PACKAGE_RUNTIME === undefined)(
  `the agent on the package's runtime and Node's inspector${!isRoot ? ` (${NEEDS_ROOT})` : PACKAGE_RUNTIME ? "" : ` (${NO_PACKAGE_RUNTIME})`}`,
  () => {
    const sys = useSystem(["job"]);

    it("SIGUSR1 during Node's own start-up, before the launcher's first line, opens nothing, and the agent serves", async () => {
      const { world, users } = sys;
      const files = await prepareAgent(world, users.service, {
        policyText: `read user:${users.job.name} K\n`,
        secrets: { K: "v1" },
      });
      // A script node runs before the launcher (--require), holding start-up until the signal has been dealt with.
      const release = path.join(world.root, "release");
      const hold = path.join(world.root, "hold.cjs");
      writeFileSync(
        hold,
        `require("node:fs").writeSync(2, "held\\n");
         const end = Date.now() + 30000;
         while (!require("node:fs").existsSync(${JSON.stringify(release)}) && Date.now() < end)
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);`,
        { mode: 0o644 },
      );
      // The runtime the package carries, started with the flags its units and init script give it.
      const { node, version } = PACKAGE_RUNTIME!;
      const agent = sys.spawnAgent(
        files,
        { NODE_OPTIONS: `--require ${hold}` },
        { path: node, flags: agentStartFlags(version) },
      );
      await until(() => agent.stderr().includes("held\n") || !agent.alive());
      agent.kill("SIGUSR1");
      await until(() => !agent.alive() || dealtWith(agent.pid, 10));
      writeFileSync(release, "");
      await untilReady(agent, files.socket);
      expect(listeningSockets(agent.pid)).toEqual([]);
      expect(await accepts(9229)).toBe(false);
      const r = await world.run(["get", "K"], { as: users.job, env: { SECRETFILE_SOCKET: files.socket } });
      expect([r.code, r.stdout]).toEqual([0, "v1"]);
      expect(agent.stderr()).not.toMatch(/Debugger|inspector/);
    });
  },
);
