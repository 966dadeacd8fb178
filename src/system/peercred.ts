// The caller's pid, uid and gid, read from the kernel with getsockopt(SO_PEERCRED).
// Rules: trust only the kernel, never the client's words; refuse anything but a Unix-domain socket.

import type * as net from "node:net";
import { FailureError } from "../errors.js";
import { describeErrno, requireNative } from "./native.js";

const AF_UNIX = 1;
/** Where the addon puts pid, uid and gid: reused, as the agent reads one connection's credentials at a time. */
const ucred = new Int32Array(3);

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
 * Unix-domain socket, or getsockopt fails (its errno in the message); and requireNative()'s without the addon.
 */
export function peerCredentials(socket: net.Socket, fromUnixListener = false): PeerCred {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) {
    throw new FailureError("cannot read the caller's credentials: the connection has no file descriptor");
  }
  const addon = requireNative("reading the caller's credentials");
  if (!fromUnixListener) requireUnixSocket(fd, "cannot read the caller's credentials");
  const rc = addon.peerCred(fd, ucred);
  if (rc !== 0) {
    throw new FailureError(
      `cannot read the caller's credentials: getsockopt(SO_PEERCRED) failed: ${describeErrno(-rc)}`,
    );
  }
  // struct ucred { pid_t pid; uid_t uid; gid_t gid; }: uid and gid are unsigned.
  return { pid: ucred[0]!, uid: ucred[1]! >>> 0, gid: ucred[2]! >>> 0 };
}

/**
 * Throws FailureError (`what`: the start of its message) unless `fd` is a Unix-domain socket: SO_PEERCRED on a TCP
 * socket succeeds with made-up values (uid 65534, pid 0). A socket accepted from a Unix listener is one too.
 */
export function requireUnixSocket(fd: number, what: string): void {
  const domain = requireNative(what).socketDomain(fd);
  if (domain < 0) throw new FailureError(`${what}: getsockopt(SO_DOMAIN) failed: ${describeErrno(-domain)}`);
  if (domain !== AF_UNIX) throw new FailureError(`${what}: not a Unix-domain socket (family ${domain})`);
}
