// The Unix-domain addresses of a connected or listening socket (getpeername, getsockname), as the kernel holds them.
// Rules: an abstract address keeps its leading NUL; nothing the peer sends is read; through the addon (native/socket.c).

import { FailureError } from "../errors.js";
import { describeErrno, requireNative } from "./native.js";

/** sizeof(struct sockaddr_un): sa_family (2 bytes) and sun_path (108). */
const SOCKADDR_UN = 110;
const buffer = Buffer.alloc(SOCKADDR_UN);

/**
 * Returns the address the peer of `fd` is bound to (`\0…` for an abstract one, "" for an unnamed one), as Latin-1 text
 * so every byte is kept. Throws FailureError when getpeername fails, and requireNative()'s without the addon.
 */
export function peerAddress(fd: number): string {
  return address(fd, "getpeername");
}

/** Returns the address `fd` itself is bound to (a listening socket's path). Throws FailureError when getsockname fails. */
export function localAddress(fd: number): string {
  return address(fd, "getsockname");
}

function address(fd: number, call: "getpeername" | "getsockname"): string {
  const addon = requireNative(`reading a socket's address (${call})`);
  buffer.fill(0);
  const rc = call === "getpeername" ? addon.peerName(fd, buffer) : addon.sockName(fd, buffer);
  if (rc < 0) throw new FailureError(`${call} failed: ${describeErrno(-rc)}`);
  const len = Math.min(rc, SOCKADDR_UN);
  if (len <= 2) return "";
  const path = buffer.subarray(2, len);
  // A path address ends at its NUL; an abstract one (first byte NUL) is exactly `len - 2` bytes.
  const end = path[0] === 0 ? path.length : path.indexOf(0) === -1 ? path.length : path.indexOf(0);
  return path.subarray(0, end).toString("latin1");
}
