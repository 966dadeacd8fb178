// The CLI's process hygiene: before it holds any value it makes itself non-dumpable, so no core file holds a key and
// no other process of the same user can read its memory (/proc/PID/mem, environ, ptrace).
// Rules: done through dist/native.node (native/hygiene.c); a failure is an error; without the addon (plain Node has no
// prctl) the CLI runs unprotected, as on macOS (docs/native.md). `exec` keeps the core-file limit, which its job
// would inherit; its own dumpable flag already keeps secretfile's memory out of a core.

import { FailureError } from "../errors.js";
import { inspectorInUse } from "../system/inspector.js";
import { native } from "../system/native.js";

/**
 * Refuses to run with Node's inspector, then makes this process non-dumpable and, unless `keepCoreLimit`, sets its
 * core-file limit to 0. Throws FailureError (1).
 */
export async function hardenCli(opts: { keepCoreLimit: boolean }): Promise<void> {
  // Anyone who reaches an inspector's port runs code in this process: no value, store or agent with one open.
  const inspector = inspectorInUse();
  if (inspector !== undefined) {
    throw new FailureError(`refusing to run with Node's inspector: ${inspector}`, {
      hint: "run secretfile without --inspect (or --inspect-brk, --inspect-port, ...) in node's options or NODE_OPTIONS",
    });
  }
  // prctl is Linux's; on macOS (personal mode only), and on plain Node (no addon: a platform the package has no build
  // for, and no C compiler), the CLI runs without this protection, as SECURITY.md says.
  const addon = process.platform === "linux" ? native() : undefined;
  if (addon === undefined) return;
  const r = addon.harden(!opts.keepCoreLimit);
  if (r !== 0) {
    const call = r < 0 ? "prctl(PR_SET_DUMPABLE)" : "setrlimit(RLIMIT_CORE)";
    throw new FailureError(
      `cannot protect secretfile's memory before it reads a secret: ${call} failed with errno ${Math.abs(r)}`,
      {
        hint: "this needs Linux prctl(2) and setrlimit(2); if a sandbox forbids them, allow them for secretfile",
      },
    );
  }
}
