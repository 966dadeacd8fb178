import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { peerCredentials, type PeerCred } from "../../src/system/peercred.js";
import { FailureError } from "../../src/errors.js";

let dir: string;
let servers: net.Server[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sf-peercred-"));
  chmodSync(dir, 0o777); // so a child running as nobody can reach the socket
});

afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  servers = [];
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// Listens on a socket and resolves with what peerCredentials() (or its error) says about the first caller.
async function serve(listen: (server: net.Server) => void): Promise<{ server: net.Server; first: Promise<PeerCred> }> {
  let settle!: (v: { cred: PeerCred } | { err: unknown }) => void;
  const seen = new Promise<{ cred: PeerCred } | { err: unknown }>((resolve) => (settle = resolve));
  const server = net.createServer((socket) => {
    try {
      settle({ cred: peerCredentials(socket) });
    } catch (err) {
      settle({ err });
    }
    socket.destroy();
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", resolve);
    listen(server);
  });
  const first = seen.then((r) => ("err" in r ? Promise.reject(r.err) : r.cred));
  first.catch(() => {});
  return { server, first };
}

function unixPath(name: string): string {
  return join(dir, `${name}-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
}

describe("peerCredentials", () => {
  it("reads this process's own pid, uid and gid from a Unix socket", async () => {
    const path = unixPath("self");
    const { first } = await serve((s) => s.listen(path));
    const client = net.connect(path);
    client.on("error", () => {});
    const cred = await first;
    client.destroy();
    expect(cred).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  });

  // The second case has gid != uid, so a swapped uid and gid cannot pass.
  it.skipIf(process.getuid?.() !== 0).for([
    { uid: 65534, gid: 65534 },
    { uid: 65534, gid: 65533 },
  ])("reads another user's uid $uid, gid $gid and pid (needs root to spawn as nobody)", async ({ uid, gid }) => {
    const path = unixPath("nobody");
    const { first } = await serve((s) => s.listen({ path, writableAll: true }));
    const script = `
      const s = require("node:net").connect(process.argv[1]);
      s.on("error", (e) => { console.error(e.message); process.exit(2); });
      s.on("close", () => process.exit(0));
      s.resume();`;
    const child = spawn("/usr/bin/node", ["-e", script, path], { uid, gid, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const cred = await Promise.race([
      first,
      exited.then((code) => Promise.reject(new Error(`child exited ${code}: ${stderr}`))),
    ]);
    expect(cred).toEqual({ pid: child.pid, uid, gid });
    expect(await exited).toBe(0);
  });

  it("refuses a TCP socket, where SO_PEERCRED would return made-up values", async () => {
    const { server, first } = await serve((s) => s.listen(0, "127.0.0.1"));
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    client.on("error", () => {});
    await expect(first).rejects.toThrow(/not a Unix-domain socket/);
    await expect(first).rejects.toBeInstanceOf(FailureError);
    client.destroy();
  });

  it("refuses a socket that has no file descriptor any more", async () => {
    const path = unixPath("closed");
    let closed!: (s: net.Socket) => void;
    const got = new Promise<net.Socket>((resolve) => (closed = resolve));
    const server = net.createServer((socket) => {
      socket.destroy();
      closed(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const client = net.connect(path);
    client.on("error", () => {});
    const socket = await got;
    client.destroy();
    expect(() => peerCredentials(socket)).toThrow(FailureError);
    expect(() => peerCredentials(socket)).toThrow(/no file descriptor/);
  });

  it("refuses to run off Linux, naming personal mode", () => {
    const platform = Object.getOwnPropertyDescriptor(process, "platform")!;
    Object.defineProperty(process, "platform", { ...platform, value: "darwin" });
    try {
      const fake = { _handle: { fd: 0 } } as unknown as net.Socket;
      expect(() => peerCredentials(fake)).toThrow(FailureError);
      expect(() => peerCredentials(fake)).toThrow(
        "system mode needs Linux (SO_PEERCRED); on macOS use personal mode (--dir)",
      );
    } finally {
      Object.defineProperty(process, "platform", platform);
    }
  });
});
