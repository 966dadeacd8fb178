// The caller's pid, uid and gid, read from the kernel with getsockopt(SO_PEERCRED).
// Rules: trust only the kernel, never the client's words; refuse anything but a Unix-domain socket.

import type * as net from "node:net";
import { endianness } from "node:os";
import { FailureError } from "../errors.js";
import { describeErrno, libc } from "./libc.js";

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SO_DOMAIN = 39;
const AF_UNIX = 1;
const UCRED_SIZE = 12;
/** Where getsockopt puts `struct ucred`: reused, as the agent reads one connection's credentials at a time. */
const ucred = Buffer.alloc(UCRED_SIZE);
const ucredLength = new Uint32Array(1);
const LITTLE_ENDIAN = endianness() === "LE";

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

  ucred.fill(0);
  ucredLength[0] = UCRED_SIZE;
  if (c.getsockoptBytes(fd, SOL_SOCKET, SO_PEERCRED, ucred, ucredLength) !== 0) {
    throw new FailureError(`cannot read the caller's credentials: getsockopt(SO_PEERCRED) failed: ${describeErrno(c.errno())}`);
  }
  if (ucredLength[0] !== UCRED_SIZE) {
    throw new FailureError(`cannot read the caller's credentials: getsockopt(SO_PEERCRED) returned ${ucredLength[0]} bytes`);
  }
  // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, in this machine's byte order.
  return LITTLE_ENDIAN
    ? { pid: ucred.readInt32LE(0), uid: ucred.readUInt32LE(4), gid: ucred.readUInt32LE(8) }
    : { pid: ucred.readInt32BE(0), uid: ucred.readUInt32BE(4), gid: ucred.readUInt32BE(8) };
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
