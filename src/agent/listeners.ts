// Listening on the agent's one socket through several handles, so that one event-loop turn can take several new
// connections. Rules: every handle is the same listening socket (a close-on-exec duplicate of its descriptor), so every
// connection is still a Unix-domain one whose peer the kernel names; the connection limit counts all handles together.

import net from "node:net";
import { FailureError } from "../errors.js";
import { errnoOf } from "../system/errno.js";
import { describeErrno, requireNative } from "../system/native.js";

/**
 * Handles on the listening socket. libuv accepts one connection per handle per turn of the event loop (since 1.45), so
 * with one handle each turn serves one new connection, and the work done once per turn (the policy's and the store's
 * lstat, the audit log's write) is done once per request. With 8, a busy turn takes up to 8 (bench: the agent then
 * makes a fraction of the lstat calls and audit writes per request, bench/limits.md, instead of 2 and 1).
 */
export const HANDLES = 8;

/**
 * Connections open at once from which the spare handles (all but the first) listen too. Every handle is woken by each
 * new connection and all but one find nothing to accept: at one connection at a time the spares cost the agent about a
 * quarter of its time (bench/limits.md), so they listen only while connections come in faster than they are served.
 */
export const SPARES_FROM = 3;

/** How long the spare handles go on listening after the agent last had SPARES_FROM connections open. */
export const SPARES_IDLE_MS = 2_000;

/** Where to listen: a socket path, or a file descriptor handed over by systemd. */
export type Listen = { path: string } | { fd: number };

/** The handles listening on one socket, as one. */
export interface Listeners {
  /** The first handle (the one that bound the path, or took systemd's descriptor). */
  server: net.Server;
  /** Stops accepting on every handle; resolves once every handle has closed (each after its connections ended). */
  close(): Promise<void>;
}

/** What listenAll does with what comes in. */
export interface ListenOptions {
  /** Connections the kernel holds before they are accepted. */
  backlog: number;
  /** The mode of a socket file the agent binds itself, which it has from the moment it appears at its path. */
  mode: number;
  /** Connections open at once, all handles together; one more is closed at once, and `onDrop` called. */
  maxConnections: number;
  onConnection: (socket: net.Socket) => void;
  onDrop: () => void;
  /** An error of a handle once it listens (accept failing for lack of descriptors, say): the handle keeps listening. */
  onError: (err: Error) => void;
  /** How long spare handles outlast the last busy moment; SPARES_IDLE_MS unless a test says otherwise. */
  sparesIdleMs?: number;
}

/**
 * Listens on `listen` through one handle, and through HANDLES - 1 spares while SPARES_FROM connections are open; every
 * handle calls `onConnection`. Rejects with FailureError when the socket cannot be listened on. A spare that cannot be
 * made (no descriptor left) is reported to `onError` and the agent goes on with the handles it has.
 */
export async function listenAll(listen: Listen, options: ListenOptions): Promise<Listeners> {
  const { backlog, mode, maxConnections, onConnection, onDrop, onError, sparesIdleMs = SPARES_IDLE_MS } = options;
  let open = 0;
  const where = "path" in listen ? listen.path : `fd ${listen.fd}`;
  const start = (on: { path: string } | { fd: number }) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, admit);
    return new Promise<net.Server>((resolve, reject) => {
      const failed = (err: Error) => {
        server.close();
        reject(new FailureError(`cannot listen on ${where}: ${errnoOf(err) ?? err.message}`, { cause: err }));
      };
      server.once("error", failed);
      // The backlog as an argument of its own: Node ignores `backlog` inside an `{ fd }` object and would listen(2) the
      // socket again with 511, for every handle.
      bindingAs("path" in on ? mode : undefined, () =>
        server.listen(on, backlog, () => {
          server.off("error", failed);
          server.on("error", onError);
          resolve(server);
        }),
      );
    });
  };
  const first = await start("path" in listen ? { path: listen.path } : { fd: listen.fd });
  const fd = (first as unknown as { _handle?: { fd?: number } })._handle?.fd;
  const spares = new Spares(() => start({ fd: duplicate(fd, where) }), onError, sparesIdleMs);
  function admit(socket: net.Socket): void {
    if (open >= maxConnections) {
      socket.destroy();
      onDrop();
      return;
    }
    open++;
    socket.once("close", () => open--);
    if (open >= SPARES_FROM) spares.wanted();
    onConnection(socket);
  }
  return {
    server: first,
    // Every handle's own connections, not only the first's: the agent closes its audit log once this resolves.
    close: async () => {
      await Promise.all([spares.close(), new Promise<void>((resolve) => first.close(() => resolve()))]);
    },
  };
}

/**
 * Runs `listen` (a net.Server's listen, which binds and listens before it returns) with the umask that makes a socket
 * file bound in it `mode`, then restores the umask; with `mode` undefined, as it is. A socket chmod-ed after it listens
 * sits at its path for a moment with the mode the usual umask gives, and a client connecting then (an init script's
 * restart, jobs every 100 ms) is refused with EACCES, which it does not retry, where a missing or dead socket is
 * ENOENT or ECONNREFUSED, which it does (src/client/agent.ts). The umask is the process's, changed for one
 * synchronous call made as the agent starts, before it serves anything: no other file is being made then.
 */
function bindingAs(mode: number | undefined, listen: () => void): void {
  if (mode === undefined) {
    listen();
    return;
  }
  const umask = process.umask(~mode & 0o777);
  try {
    listen();
  } finally {
    process.umask(umask);
  }
}

/** The spare handles: started when wanted, closed (each once its own connections have ended) when no longer. */
class Spares {
  private servers: Promise<net.Server[]> | undefined;
  private lastWanted = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly make: () => Promise<net.Server>;
  private readonly onError: (err: Error) => void;
  private readonly idleMs: number;

  constructor(make: () => Promise<net.Server>, onError: (err: Error) => void, idleMs: number) {
    this.make = make;
    this.onError = onError;
    this.idleMs = idleMs;
  }

  /** Notes that the agent is busy: the spares listen from now until `idleMs` after the last such note. */
  wanted(): void {
    this.lastWanted = performance.now();
    if (this.servers !== undefined || this.closed) return;
    this.servers = this.startAll();
    this.timer = setInterval(() => {
      if (performance.now() - this.lastWanted > this.idleMs) void this.stop();
    }, this.idleMs);
    this.timer.unref();
  }

  /** Stops listening on every spare; resolves once each has closed, after its connections ended. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  private async startAll(): Promise<net.Server[]> {
    const servers: net.Server[] = [];
    try {
      for (let i = 1; i < HANDLES; i++) servers.push(await this.make());
    } catch (err) {
      this.onError(err as Error);
    }
    return servers;
  }

  private async stop(): Promise<void> {
    const servers = this.servers;
    if (servers === undefined) return;
    this.servers = undefined;
    clearInterval(this.timer);
    const started = await servers;
    await Promise.all(started.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Returns a close-on-exec duplicate of the listening descriptor `fd`; throws FailureError when there is none. */
function duplicate(fd: number | undefined, where: string): number {
  if (typeof fd !== "number" || fd < 0)
    throw new FailureError(`cannot listen on ${where}: the listening socket has no file descriptor`);
  const copy = requireNative("the agent").dupCloexec(fd);
  if (copy < 0)
    throw new FailureError(`cannot listen on ${where}: fcntl(F_DUPFD_CLOEXEC) failed: ${describeErrno(-copy)}`);
  return copy;
}
