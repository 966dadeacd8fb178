// Process hardening for the agent: no core dumps, no ptrace or /proc memory reads by same-uid processes.
// Rules: a step that fails throws, so the agent never runs half-hardened while it holds decrypted secrets.

import { FailureError } from "../errors.js";
import { describeErrno, libc } from "./libc.js";

const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;
const RLIMIT_CORE = 4;

/**
 * Makes this process non-dumpable (prctl PR_SET_DUMPABLE 0: no core file, no ptrace attach or
 * /proc/PID/mem by other processes of the same uid) and, unless `keepCoreLimit`, sets its core file size limit to 0,
 * soft and hard, which cannot be raised again. Calling it again is harmless.
 * Throws FailureError when either call fails (its errno in the message), and libc()'s errors off Linux.
 */
export function hardenProcess(opts: { keepCoreLimit?: boolean } = {}): void {
  const c = libc();
  if (c.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0) {
    throw new FailureError(`cannot make this process non-dumpable: prctl(PR_SET_DUMPABLE) failed: ${describeErrno(c.errno())}`);
  }
  if (opts.keepCoreLimit !== true && c.setrlimit(RLIMIT_CORE, { rlim_cur: 0, rlim_max: 0 }) !== 0) {
    throw new FailureError(`cannot disable core dumps: setrlimit(RLIMIT_CORE) failed: ${describeErrno(c.errno())}`);
  }
}

/**
 * Returns whether this process is dumpable (prctl PR_GET_DUMPABLE is 1 or 2), false after hardenProcess().
 * Throws FailureError when prctl fails, and libc()'s errors off Linux.
 */
export function isDumpable(): boolean {
  const c = libc();
  const state = c.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (state < 0) {
    throw new FailureError(`cannot read the dumpable flag: prctl(PR_GET_DUMPABLE) failed: ${describeErrno(c.errno())}`);
  }
  return state !== 0;
}
