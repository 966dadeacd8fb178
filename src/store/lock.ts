// The write lock around a store: proper-lockfile's mkdir lock, with staleness recovery and a visible wait.
// Rules: one writer at a time; a lock left by a killed writer is taken over once stale; a lost lock aborts the write.

import lockfile from "proper-lockfile";
import { FailureError } from "../errors.js";
import { errno } from "./files.js";

/** How a caller waits for the lock. */
export interface LockOptions {
  /** Called once, when the lock is held by someone else and we start waiting. */
  onWait?: (lockPath: string) => void;
  /** How long to wait before giving up, in ms (default 60 s). */
  timeoutMs?: number;
}

/** Milliseconds after which a lock whose holder stopped refreshing it is stale (SECRETFILE_LOCK_STALE_MS, min 2000). */
export function staleMs(): number {
  const n = Number(process.env.SECRETFILE_LOCK_STALE_MS);
  return Number.isFinite(n) && n >= 2000 ? n : 10_000;
}

/**
 * Runs `fn` while holding the lock on `file`. `fn` receives `assertHeld`, which throws if the lock
 * was lost (taken over as stale) so that a write can abort before its rename.
 * Throws FailureError (exit 1) when the lock cannot be had within the timeout.
 */
export async function withLock<T>(file: string, fn: (assertHeld: () => void) => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lockPath = `${file}.lock`;
  const stale = staleMs();
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let compromised: unknown;
  let waited = false;
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await lockfile.lock(file, {
        realpath: false,
        stale,
        update: Math.floor(stale / 4),
        retries: 0,
        onCompromised: (err) => {
          compromised = err;
        },
      });
      break;
    } catch (err) {
      if (errno(err) !== "ELOCKED") {
        throw new FailureError(`cannot lock ${file}: ${errno(err) ?? String(err)}`, {
          hint: "check that you may write to the store's folder",
          cause: err,
        });
      }
      if (Date.now() > deadline) {
        throw new FailureError(`timed out waiting for the lock on ${file}`, {
          hint: `another secretfile is writing; if none is running, remove ${lockPath}`,
        });
      }
      if (!waited) opts.onWait?.(lockPath);
      waited = true;
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
  }
  const assertHeld = () => {
    if (compromised !== undefined) {
      throw new FailureError(`lost the lock on ${file} while writing; the store was not changed`, {
        hint: "run the command again",
        cause: compromised,
      });
    }
  };
  try {
    return await fn(assertHeld);
  } finally {
    await release().catch(() => undefined);
  }
}
