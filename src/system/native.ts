// secretfile's native addon, dist/native.node (native/*.c, built by build/native.mjs): its one way into C, for the agent
// and the CLI alike (docs/native.md). Rules: loaded once, on first use; undefined when the build had no C compiler (or
// SECRETFILE_NATIVE=0, which tests use to run the fallback): the CLI then runs on plain Node, and what plain Node
// cannot do (SO_PEERCRED, the user database) throws through requireNative().

import os from "node:os";
import path from "node:path";
import { FailureError } from "../errors.js";

/** What native/addon.c exports. */
export interface Native {
  /** 0, or -errno of prctl(PR_SET_DUMPABLE), or +errno of setrlimit(RLIMIT_CORE) (native/hygiene.c). */
  harden(noCore: boolean): number;
  /** prctl(PR_GET_DUMPABLE). */
  dumpable(): number;
  /**
   * Sends `request` on a new connection to the Unix socket `socket` and returns the answer's first line, without its
   * newline, all within `timeoutMs` (native/request.c). With `owners`, sends nothing unless the listener's uid
   * (SO_PEERCRED) is one of them (else EPERM with `peerUid`). Throws a NativeError.
   */
  exchange(socket: string, request: Buffer, max: number, timeoutMs: number, owners: number[] | null): Buffer;
  /**
   * Starts `file` with `argv` (argv[0] included) and the environment `env` ("NAME=value" entries, each ended by a NUL),
   * every signal at its default, in a process
   * group of its own when `newGroup`, killed by the kernel should secretfile die first (PR_SET_PDEATHSIG); with `mask`, its standard output and error come to `onEvent(1 or 2, chunk)`,
   * else they are ours. `onEvent(0, code, signal)` when it has ended (code -1 when a signal ended it). Returns its pid;
   * throws a NativeError when it cannot start (native/spawn.c).
   */
  spawn(
    file: string,
    argv: string[],
    env: Buffer,
    newGroup: boolean,
    mask: boolean,
    onEvent: (kind: number, data: Buffer | number, signal?: number) => void,
  ): number;
  /** isatty(fd). */
  isTerminal(fd: number): boolean;
  /** getsockopt(SO_PEERCRED) into `out` (pid, uid, gid; uid and gid to be read unsigned): 0 or -errno (native/socket.c). */
  peerCred(fd: number, out: Int32Array): number;
  /** getsockopt(SO_DOMAIN): the address family, or -errno. */
  socketDomain(fd: number): number;
  /** getpeername into `out` (struct sockaddr_un): the address's length, or -errno. */
  peerName(fd: number, out: Buffer): number;
  /** getsockname into `out` (struct sockaddr_un): the address's length, or -errno. */
  sockName(fd: number, out: Buffer): number;
  /** fcntl(fd, F_DUPFD_CLOEXEC, 0): the new descriptor, or -errno. */
  dupCloexec(fd: number): number;
  /** getpwuid_r: the entry, null when there is none, or a positive errno (native/users.c). */
  passwdByUid(uid: number): NativePasswd | null | number;
  /** getpwnam_r: the entry, null when there is none (a name holding NUL included), or a positive errno. */
  passwdByName(name: string): NativePasswd | null | number;
  /** getgrgid_r: the entry, null when there is none, or a positive errno. */
  groupByGid(gid: number): NativeGroup | null | number;
  /** getgrnam_r: the entry, null when there is none (a name holding NUL included), or a positive errno. */
  groupByName(name: string): NativeGroup | null | number;
  /** getgrouplist: `gid` first, then the user's supplementary groups; or a positive errno (E2BIG past 65536). */
  groupList(user: string, gid: number): number[] | number;
  /**
   * Node's own OpenSSL (native/crypto.c), absent when its functions were not found: X25519 (the shared secret with
   * `peer`, or the public key), HMAC-SHA-256, ChaCha20-Poly1305 opening (null when refused or the tag is wrong).
   */
  x25519?: (secret: Buffer, peer?: Buffer) => Buffer | null;
  hmacSha256?: (key: Buffer, data: Buffer) => Buffer;
  chachaOpen?: (key: Buffer, nonce: Buffer, sealed: Buffer) => Buffer | null;
}

/** A passwd entry as native/users.c returns it (a field the entry lacks is null). */
export interface NativePasswd {
  name: string | null;
  uid: number;
  gid: number;
  dir: string | null;
  shell: string | null;
}

/** A group entry as native/users.c returns it. */
export interface NativeGroup {
  name: string | null;
  gid: number;
}

/** An error thrown by the addon: the C errno, whether a connection was made first, and the listener's uid if refused. */
export interface NativeError extends Error {
  errno: number;
  connected: boolean;
  peerUid?: number;
}

let loaded: Native | null | undefined;

// Beside the bundle (dist/secretfile.cjs); from the sources (the in-process tests), the build's dist/native.node.
const ADDON = path.join(import.meta.dirname, import.meta.filename.endsWith(".ts") ? "../../dist" : ".", "native.node");

/**
 * Returns the addon, or undefined when there is none. Loaded with process.dlopen, which is what require does for a
 * .node file once it has found it: the path is known, and node:module's loader is not loaded for it.
 */
export function native(): Native | undefined {
  if (loaded === undefined) {
    try {
      if (process.env.SECRETFILE_NATIVE === "0") loaded = null;
      else {
        const addon = { exports: {} as Native };
        process.dlopen(addon, ADDON);
        loaded = addon.exports;
      }
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

/**
 * Returns the addon for `what` (the start of the message: "the agent", "reading the caller's credentials"), which plain
 * Node cannot do. Throws FailureError off Linux, or when the addon is missing or SECRETFILE_NATIVE=0.
 */
export function requireNative(what: string): Native {
  if (process.platform !== "linux") {
    throw new FailureError("system mode needs Linux (SO_PEERCRED); on macOS use personal mode (--dir)");
  }
  const addon = native();
  if (addon !== undefined) return addon;
  const why =
    process.env.SECRETFILE_NATIVE === "0"
      ? "SECRETFILE_NATIVE=0 turns it off"
      : `${ADDON} is missing or cannot be loaded`;
  throw new FailureError(`${what} needs secretfile's native addon, and ${why}`, {
    hint:
      process.env.SECRETFILE_NATIVE === "0"
        ? "unset SECRETFILE_NATIVE"
        : "install secretfile's Debian package or the npm package for linux-x64 (both ship it), or build it with a C compiler: npm run build",
  });
}

/** Returns true when `err` was thrown by the addon. */
export function isNativeError(err: unknown): err is NativeError {
  return (
    err instanceof Error &&
    typeof (err as Partial<NativeError>).errno === "number" &&
    typeof (err as Partial<NativeError>).connected === "boolean"
  );
}

/** The symbolic name of a C errno ("ENOENT"), or "errno N" for one Node does not name. */
export function errnoName(errno: number): string {
  return Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}

/** Returns an errno as text for an error message, such as `errno 13 (EACCES)`. */
export function describeErrno(errno: number): string {
  const name = errnoName(errno);
  return name.startsWith("errno ") ? name : `errno ${errno} (${name})`;
}
