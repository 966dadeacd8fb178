// The Unix-domain addresses of a connected or listening socket (getpeername, getsockname), as the kernel holds them.
// Rules: an abstract address keeps its leading NUL; nothing the peer sends is read; Linux only (libc.ts).

import { FailureError } from "../errors.js";
import { describeErrno, libc } from "./libc.js";

/** sizeof(struct sockaddr_un): sa_family (2 bytes) and sun_path (108). */
const SOCKADDR_UN = 110;
const buffer = Buffer.alloc(SOCKADDR_UN);
const length = new Uint32Array(1);

/**
 * Returns the address the peer of `fd` is bound to (`\0…` for an abstract one, "" for an unnamed one), as Latin-1 text
 * so every byte is kept. Throws FailureError when getpeername fails.
 */
export function peerAddress(fd: number): string {
  return address(fd, "getpeername");
}

/** Returns the address `fd` itself is bound to (a listening socket's path). Throws FailureError when getsockname fails. */
export function localAddress(fd: number): string {
  return address(fd, "getsockname");
}

function address(fd: number, call: "getpeername" | "getsockname"): string {
  const c = libc();
  buffer.fill(0);
  length[0] = SOCKADDR_UN;
  const rc = call === "getpeername" ? c.getpeernameBytes(fd, buffer, length) : c.getsocknameBytes(fd, buffer, length);
  if (rc !== 0) throw new FailureError(`${call} failed: ${describeErrno(c.errno())}`);
  const len = Math.min(length[0], SOCKADDR_UN);
  if (len <= 2) return "";
  const path = buffer.subarray(2, len);
  // A path address ends at its NUL; an abstract one (first byte NUL) is exactly `len - 2` bytes.
  const end = path[0] === 0 ? path.length : path.indexOf(0) === -1 ? path.length : path.indexOf(0);
  return path.subarray(0, end).toString("latin1");
}
