// Process hardening for the agent: no core dumps, no ptrace or /proc memory reads by same-uid processes.
// Rules: a step that fails throws, so the agent never runs half-hardened while it holds decrypted secrets.

import { FailureError } from "../errors.js";
import { describeErrno, requireNative } from "./native.js";

/**
 * Makes this process non-dumpable (prctl PR_SET_DUMPABLE 0: no core file, no ptrace attach or
 * /proc/PID/mem by other processes of the same uid) and, unless `keepCoreLimit`, sets its core file size limit to 0,
 * soft and hard, which cannot be raised again. Calling it again is harmless.
 * Throws FailureError when either call fails (its errno in the message), and requireNative()'s without the addon.
 */
export function hardenProcess(opts: { keepCoreLimit?: boolean } = {}): void {
  const rc = requireNative("hardening the process").harden(opts.keepCoreLimit !== true);
  if (rc < 0)
    throw new FailureError(
      `cannot make this process non-dumpable: prctl(PR_SET_DUMPABLE) failed: ${describeErrno(-rc)}`,
    );
  if (rc > 0) throw new FailureError(`cannot disable core dumps: setrlimit(RLIMIT_CORE) failed: ${describeErrno(rc)}`);
}

/**
 * Returns whether this process is dumpable (prctl PR_GET_DUMPABLE is 1 or 2), false after hardenProcess().
 * Throws FailureError when prctl fails, and requireNative()'s without the addon.
 */
export function isDumpable(): boolean {
  const state = requireNative("reading the dumpable flag").dumpable();
  if (state < 0) throw new FailureError("cannot read the dumpable flag: prctl(PR_GET_DUMPABLE) failed");
  return state !== 0;
}
