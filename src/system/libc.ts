// The C library through koffi: loaded on first use, with the few functions the agent calls.
// Rules: koffi is required at call time only (the CLI bundle keeps it external); Linux only.

import { createRequire } from "node:module";
import { constants } from "node:os";
import type * as Koffi from "koffi";
import { FailureError } from "../errors.js";

/** `struct passwd`, strings decoded from the caller's buffer. */
export interface RawPasswd {
  pw_name: string | null;
  pw_passwd: string | null;
  pw_uid: number;
  pw_gid: number;
  pw_gecos: string | null;
  pw_dir: string | null;
  pw_shell: string | null;
}

/** `struct group`, the member list left as an opaque pointer. */
export interface RawGroup {
  gr_name: string | null;
  gr_passwd: string | null;
  gr_gid: number;
  gr_mem: unknown;
}

/** `struct rlimit` (two `unsigned long`, `rlim_t` on Linux). */
export interface RawRlimit {
  rlim_cur: number;
  rlim_max: number;
}

/** A one-element array koffi reads and writes through for a `T *` argument. */
export type Ref<T> = [T];

/**
 * The declared C functions. Output structs are filled in place by koffi; `*result` pointers come back
 * as `null` when the C function stored NULL. A struct is filled even when `*result` is NULL (glibc
 * leaves the last entry it read there), so only `*result` says whether an entry was found.
 */
export interface Libc {
  /** The C `errno` left by the last call, as koffi saved it. */
  errno(): number;
  /**
   * getsockopt into raw bytes: `out` receives the option's value (for SO_PEERCRED, `struct ucred`: pid int32, uid
   * uint32, gid uint32, host byte order) and `len[0]`, set to `out`'s size before the call, its length after.
   * Raw bytes rather than a declared struct: koffi then makes no object per call (half the cost, per connection).
   */
  getsockoptBytes(fd: number, level: number, name: number, out: Buffer, len: Uint32Array): number;
  /** getpeername / getsockname into raw bytes (`struct sockaddr_un`); `len[0]` in: `out`'s size, out: the address's. */
  getpeernameBytes(fd: number, out: Buffer, len: Uint32Array): number;
  getsocknameBytes(fd: number, out: Buffer, len: Uint32Array): number;
  getsockoptInt(fd: number, level: number, name: number, out: Ref<number>, len: Ref<number>): number;
  getpwuid_r(uid: number, out: Partial<RawPasswd>, buf: Buffer, size: number, result: Ref<unknown>): number;
  getpwnam_r(name: string, out: Partial<RawPasswd>, buf: Buffer, size: number, result: Ref<unknown>): number;
  getgrgid_r(gid: number, out: Partial<RawGroup>, buf: Buffer, size: number, result: Ref<unknown>): number;
  getgrnam_r(name: string, out: Partial<RawGroup>, buf: Buffer, size: number, result: Ref<unknown>): number;
  getgrouplist(user: string, group: number, groups: Uint32Array, ngroups: Ref<number>): number;
  /** `fcntl(fd, cmd, arg)` with an `int` argument (F_DUPFD_CLOEXEC, say); -1 on failure (errno()). */
  fcntlInt(fd: number, cmd: number, arg: number): number;
  /** `prctl(option, arg2, arg3, arg4, arg5)`, every argument passed as `unsigned long`. */
  prctl(option: number, arg2: number, arg3: number, arg4: number, arg5: number): number;
  setrlimit(resource: number, limit: RawRlimit): number;
}

let cached: Libc | undefined;

/**
 * Returns the C library's functions, loading koffi and `libc.so.6` on the first call.
 * Throws FailureError on a platform other than Linux, or when koffi or the C library cannot be loaded.
 */
export function libc(): Libc {
  if (process.platform !== "linux") {
    throw new FailureError("system mode needs Linux (SO_PEERCRED); on macOS use personal mode (--dir)");
  }
  if (cached !== undefined) return cached;
  let koffi: typeof Koffi;
  let lib: Koffi.IKoffiLib;
  try {
    koffi = createRequire(import.meta.url)("koffi") as typeof Koffi;
  } catch (err) {
    throw new FailureError("cannot load koffi, which system mode needs to read the caller's identity", {
      hint: "reinstall secretfile with its dependencies (npm install)",
      cause: err,
    });
  }
  try {
    lib = koffi.load("libc.so.6");
  } catch (err) {
    throw new FailureError("cannot load the C library libc.so.6 (system mode needs glibc)", { cause: err });
  }
  cached = declare(koffi, lib);
  return cached;
}

// Types are anonymous on purpose: koffi keeps named types in a process-wide registry, and a second
// evaluation of this module (test isolation) would fail on a duplicate name.
function declare(koffi: typeof Koffi, lib: Koffi.IKoffiLib): Libc {
  const passwd = koffi.struct({
    pw_name: "str",
    pw_passwd: "str",
    pw_uid: "uint32_t",
    pw_gid: "uint32_t",
    pw_gecos: "str",
    pw_dir: "str",
    pw_shell: "str",
  });
  const group = koffi.struct({ gr_name: "str", gr_passwd: "str", gr_gid: "uint32_t", gr_mem: "void *" });
  const rlimit = koffi.struct({ rlim_cur: "unsigned long", rlim_max: "unsigned long" });
  const outPtr = koffi.out(koffi.pointer("void *"));
  const socklen = koffi.inout(koffi.pointer("uint32_t"));
  const prctl = lib.func("int prctl(int option, ...)");
  const fcntl = lib.func("int fcntl(int fd, int cmd, ...)");
  const ul = "unsigned long";
  return {
    errno: () => koffi.errno(),
    getsockoptBytes: lib.func("getsockopt", "int", ["int", "int", "int", "_Out_ uint8_t *", "_Inout_ uint32_t *"]),
    getpeernameBytes: lib.func("getpeername", "int", ["int", "_Out_ uint8_t *", "_Inout_ uint32_t *"]),
    getsocknameBytes: lib.func("getsockname", "int", ["int", "_Out_ uint8_t *", "_Inout_ uint32_t *"]),
    getsockoptInt: lib.func("getsockopt", "int", ["int", "int", "int", koffi.out(koffi.pointer("int")), socklen]),
    getpwuid_r: lib.func("getpwuid_r", "int", ["uint32_t", koffi.out(koffi.pointer(passwd)), "void *", "size_t", outPtr]),
    getpwnam_r: lib.func("getpwnam_r", "int", ["str", koffi.out(koffi.pointer(passwd)), "void *", "size_t", outPtr]),
    getgrgid_r: lib.func("getgrgid_r", "int", ["uint32_t", koffi.out(koffi.pointer(group)), "void *", "size_t", outPtr]),
    getgrnam_r: lib.func("getgrnam_r", "int", ["str", koffi.out(koffi.pointer(group)), "void *", "size_t", outPtr]),
    getgrouplist: lib.func("getgrouplist", "int", ["str", "uint32_t", "uint32_t *", koffi.inout(koffi.pointer("int"))]),
    fcntlInt: (fd, cmd, arg) => fcntl(fd, cmd, "int", arg) as number,
    prctl: (option, a2, a3, a4, a5) => prctl(option, ul, a2, ul, a3, ul, a4, ul, a5) as number,
    setrlimit: lib.func("setrlimit", "int", ["int", koffi.pointer(rlimit)]),
  };
}

/** Returns an errno as text for an error message, such as `errno 13 (EACCES)`. */
export function describeErrno(errno: number): string {
  const name = Object.entries(constants.errno).find(([, value]) => value === errno)?.[0];
  return name === undefined ? `errno ${errno}` : `errno ${errno} (${name})`;
}
