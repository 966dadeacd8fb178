// The caller's pid, uid and gid, read from the kernel with getsockopt(SO_PEERCRED).
// Rules: trust only the kernel, never the client's words; refuse anything but a Unix-domain socket.

import type * as net from "node:net";
import { FailureError } from "../errors.js";
import { describeErrno, libc } from "./libc.js";

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SO_DOMAIN = 39;
const AF_UNIX = 1;
const UCRED_SIZE = 12;

/** The credentials the kernel recorded for the peer process when it connected. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * Returns the pid, uid and gid of the process at the other end of a connected Unix-domain socket.
 * `fromUnixListener`: the socket was accepted from a listener known to be a Unix-domain socket (see
 * requireUnixSocket), so its family need not be asked again.
 * Throws FailureError when the socket has no file descriptor (closed, not yet connected), is not a
 * Unix-domain socket, or getsockopt fails (its errno in the message); and libc()'s errors off Linux.
 */
export function peerCredentials(socket: net.Socket, fromUnixListener = false): PeerCred {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) {
    throw new FailureError("cannot read the caller's credentials: the connection has no file descriptor");
  }
  const c = libc();
  if (!fromUnixListener) requireUnixSocket(fd, "cannot read the caller's credentials");

  const cred: Partial<PeerCred> = {};
  const len: [number] = [UCRED_SIZE];
  if (c.getsockoptUcred(fd, SOL_SOCKET, SO_PEERCRED, cred, len) !== 0) {
    throw new FailureError(`cannot read the caller's credentials: getsockopt(SO_PEERCRED) failed: ${describeErrno(c.errno())}`);
  }
  const { pid, uid, gid } = cred;
  if (len[0] !== UCRED_SIZE || typeof pid !== "number" || typeof uid !== "number" || typeof gid !== "number") {
    throw new FailureError(`cannot read the caller's credentials: getsockopt(SO_PEERCRED) returned ${len[0]} bytes`);
  }
  return { pid, uid, gid };
}

/**
 * Throws FailureError (`what`: the start of its message) unless `fd` is a Unix-domain socket: SO_PEERCRED on a TCP
 * socket succeeds with made-up values (uid 65534, pid 0). A socket accepted from a Unix listener is one too.
 */
export function requireUnixSocket(fd: number, what: string): void {
  const c = libc();
  const domain: [number] = [-1];
  if (c.getsockoptInt(fd, SOL_SOCKET, SO_DOMAIN, domain, [4]) !== 0) {
    throw new FailureError(`${what}: getsockopt(SO_DOMAIN) failed: ${describeErrno(c.errno())}`);
  }
  if (domain[0] !== AF_UNIX) throw new FailureError(`${what}: not a Unix-domain socket (family ${domain[0]})`);
}
