// The agent's listening handles: one while connections come one at a time, the spares too while SPARES_FROM are open
// at once, and the spares closed again once the agent has been quiet for their idle time; every handle serves.

import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { HANDLES, listenAll, SPARES_FROM } from "../../src/agent/listeners.js";
import { tempDir } from "../helpers/cli.js";

const tmp = tempDir("secretfile-listeners-");
afterAll(tmp.cleanup);
afterEach(() => vi.restoreAllMocks());

const OPTIONS = { backlog: 64, mode: 0o666, maxConnections: 100, onDrop: () => undefined } as const;

/** What is at `file`: "absent", or its kind and permission bits, such as "socket 666". */
function whatIsAt(file: string): string {
  try {
    const st = lstatSync(file);
    return `${st.isSocket() ? "socket" : "other"} ${(st.mode & 0o777).toString(8)}`;
  } catch {
    return "absent";
  }
}

/** This process's open descriptors that are sockets. */
const sockets = () =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:");
    } catch {
      return false;
    }
  }).length;

/** Connects and resolves once the server has answered "hi". */
function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socketPath);
    c.once("data", () => resolve(c));
    c.once("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("listenAll", () => {
  it(`listens through one handle at a time of quiet, through ${HANDLES} from ${SPARES_FROM} connections open at once, and one again once quiet`, async () => {
    const socketPath = path.join(tmp.dir, "l.sock");
    const accepted: net.Socket[] = [];
    const errors: Error[] = [];
    const before = sockets();
    const listeners = await listenAll(
      { path: socketPath },
      {
        ...OPTIONS,
        onConnection: (s) => {
          accepted.push(s);
          s.write("hi");
        },
        onError: (e) => errors.push(e),
        sparesIdleMs: 200,
      },
    );
    expect(sockets() - before).toBe(1);
    // Connections one at a time: the first handle alone (each pair: the client's end and the accepted one).
    for (let i = 0; i < 3; i++) {
      const c = await connect(socketPath);
      expect(sockets() - before).toBe(3);
      c.destroy();
      accepted.shift()!.destroy();
      await sleep(20);
    }
    // SPARES_FROM open at once: the spares listen too.
    const open: net.Socket[] = [];
    for (let i = 0; i < SPARES_FROM; i++) open.push(await connect(socketPath));
    await sleep(50);
    expect(sockets() - before).toBe(HANDLES + 2 * SPARES_FROM);
    // Served meanwhile, on whichever handle.
    const more = await Promise.all(Array.from({ length: 20 }, () => connect(socketPath)));
    for (const c of [...open, ...more]) c.destroy();
    for (const s of accepted.splice(0)) s.destroy();
    // Quiet for longer than the idle time (checked every idle time): back to the first handle, which still serves.
    await sleep(700);
    expect(sockets() - before).toBe(1);
    const last = await connect(socketPath);
    last.destroy();
    for (const s of accepted.splice(0)) s.destroy();
    await listeners.close();
    expect(sockets() - before).toBe(0);
    expect(errors).toEqual([]);
  });

  it("binds its socket with its mode, whatever the umask: a caller never finds it at its path with another", async () => {
    const socketPath = path.join(tmp.dir, "m.sock");
    const umask = process.umask(0o077);
    // What sits at the path the moment each handle listens (its 'listening' event), before listenAll goes on.
    const seen: string[] = [];
    const listen = Reflect.get(net.Server.prototype, "listen") as (...a: unknown[]) => net.Server;
    vi.spyOn(net.Server.prototype, "listen").mockImplementation(function (this: net.Server, ...args: unknown[]) {
      this.once("listening", () => seen.push(whatIsAt(socketPath)));
      return listen.apply(this, args);
    });
    let listeners;
    try {
      listeners = await listenAll(
        { path: socketPath },
        { ...OPTIONS, onConnection: (s) => s.end("hi"), onError: () => undefined },
      );
      expect(process.umask(0o077)).toBe(0o077); // restored
    } finally {
      process.umask(umask);
    }
    expect(seen).toEqual(["socket 666"]);
    expect(whatIsAt(socketPath)).toBe("socket 666");
    (await connect(socketPath)).destroy();
    await listeners.close();
  });
});
