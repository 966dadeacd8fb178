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
  /** Connections open at once, all handles together; one more is closed at once, and `onDrop` called. */
  maxConnections: number;
  onConnection: (socket: net.Socket) => void;
  onDrop: () => void;
  /** An error of a handle once it listens (accept failing for lack of descriptors, say): the handle keeps listening. */
  onError: (err: Error) => void;
}

/**
 * Listens on `listen` through HANDLES handles that all call `onConnection`. Rejects with FailureError when the socket
 * cannot be listened on or duplicated (every handle made so far is closed).
 */
export async function listenAll(listen: Listen, options: ListenOptions): Promise<Listeners> {
  const { backlog, maxConnections, onConnection, onDrop, onError } = options;
  let open = 0;
  const admit = (socket: net.Socket) => {
    if (open >= maxConnections) {
      socket.destroy();
      onDrop();
      return;
    }
    open++;
    socket.once("close", () => open--);
    onConnection(socket);
  };
  const where = "path" in listen ? listen.path : `fd ${listen.fd}`;
  const servers: net.Server[] = [];
  const start = (on: { path: string } | { fd: number }) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, admit);
    servers.push(server);
    return new Promise<void>((resolve, reject) => {
      const failed = (err: Error) =>
        reject(new FailureError(`cannot listen on ${where}: ${errnoOf(err) ?? err.message}`, { cause: err }));
      server.once("error", failed);
      // The backlog as an argument of its own: Node ignores `backlog` inside an `{ fd }` object and would listen(2) the
      // socket again with 511, for every handle.
      server.listen(on, backlog, () => {
        server.off("error", failed);
        server.on("error", onError);
        resolve();
      });
    });
  };
  try {
    await start("path" in listen ? { path: listen.path } : { fd: listen.fd });
    const fd = (servers[0] as unknown as { _handle?: { fd?: number } })._handle?.fd;
    for (let i = 1; i < HANDLES; i++) await start({ fd: duplicate(fd, where) });
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    server: servers[0]!,
    // Every handle's own connections, not only the first's: the agent closes its audit log once this resolves.
    close: async () => {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
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
