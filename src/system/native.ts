// The CLI's native addon, dist/native.node (native/*.c, built by build/native.mjs): a few system calls made directly,
// where Node would load a module costing milliseconds at every start (koffi, node:net, node:child_process).
// Rules: loaded once, on first use; undefined when the build had no C compiler (or SECRETFILE_NATIVE=0, which tests use
// to run the fallbacks), and every caller then does the same through koffi or node:net.

import { createRequire } from "node:module";
import { constants } from "node:os";

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
   * Starts `file` with `argv` (argv[0] included) and `env` ("NAME=value"), every signal at its default, in a process
   * group of its own when `newGroup`, killed by the kernel should secretfile die first (PR_SET_PDEATHSIG); with `mask`, its standard output and error come to `onEvent(1 or 2, chunk)`,
   * else they are ours. `onEvent(0, code, signal)` when it has ended (code -1 when a signal ended it). Returns its pid;
   * throws a NativeError when it cannot start (native/spawn.c).
   */
  spawn(file: string, argv: string[], env: string[], newGroup: boolean, mask: boolean, onEvent: (kind: number, data: Buffer | number, signal?: number) => void): number;
  /** isatty(fd). */
  isTerminal(fd: number): boolean;
}

/** An error thrown by the addon: the C errno, whether a connection was made first, and the listener's uid if refused. */
export interface NativeError extends Error {
  errno: number;
  connected: boolean;
  peerUid?: number;
}

let loaded: Native | null | undefined;

/** Returns the addon, or undefined when there is none. */
export function native(): Native | undefined {
  if (loaded === undefined) {
    try {
      loaded = process.env.SECRETFILE_NATIVE === "0" ? null : (createRequire(import.meta.url)(new URL("./native.node", import.meta.url).pathname) as Native);
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

/** Returns true when `err` was thrown by the addon. */
export function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as Partial<NativeError>).errno === "number" && typeof (err as Partial<NativeError>).connected === "boolean";
}

/** The symbolic name of a C errno ("ENOENT"), or "errno N" for one Node does not name. */
export function errnoName(errno: number): string {
  return Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}
