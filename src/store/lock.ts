// The write lock around a store: proper-lockfile's mkdir lock, with a record of its holder, recovery of an abandoned
// lock and a visible wait. Rules: one writer at a time; a lock whose holder died on this host is taken over at once,
// one that stopped being refreshed once stale; every takeover is serialized; a lost lock aborts the write.

import nodeFs, {
  closeSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import lockfile from "proper-lockfile";
import { AccessError, FailureError } from "../errors.js";
import { errnoOf } from "../system/errno.js";
import { ioHint } from "./io-error.js";
import {
  holderIsDead,
  newOwner,
  readOwner,
  removeOwner,
  stillHeld,
  writeOwner,
  type OwnerRecord,
} from "./lock-owner.js";

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

/** proper-lockfile never declares a lock stale itself: every takeover goes through `takeOverIfAbandoned`. */
const NEVER_STALE = 2 ** 31 - 1;

/**
 * Runs `fn` while holding the lock on `file`. `fn` receives `assertHeld`, which throws if the lock
 * was lost (taken over as stale) so that a write can abort before its rename.
 * Throws FailureError (exit 1) when the lock cannot be had within the timeout.
 */
export async function withLock<T>(
  file: string,
  fn: (assertHeld: () => void) => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const lockPath = `${file}.lock`;
  const stale = staleMs();
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const held = holderFs();
  let compromised: unknown;
  let waited = false;
  let pause = 25;
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await lockfile.lock(file, {
        realpath: false,
        stale: NEVER_STALE,
        update: Math.max(1000, Math.floor(stale / 4)),
        retries: 0,
        fs: held.fs,
        onCompromised: (err) => {
          compromised = err;
        },
      });
      break;
    } catch (err) {
      if (errnoOf(err) !== "ELOCKED") {
        throw new FailureError(`cannot lock ${file}: ${errnoOf(err) ?? String(err)}`, {
          hint: ioHint(errnoOf(err), path.dirname(file)),
          cause: err,
        });
      }
      refuseNonFolder(lockPath);
      if (takeOverIfAbandoned(lockPath, stale)) continue;
      if (Date.now() > deadline) {
        throw new FailureError(`timed out waiting for the lock on ${file}`, {
          hint: `another secretfile is writing; if none is running, remove ${lockPath}`,
        });
      }
      if (!waited) opts.onWait?.(lockPath);
      waited = true;
      // Back off from 25 ms to at most 250 ms between tries: fifty waiting processes polling fast would take the CPU
      // from the writer they wait for. The jitter keeps them from trying in step.
      await new Promise((r) => setTimeout(r, pause * (0.5 + Math.random())));
      pause = Math.min(pause * 1.5, 250);
    }
  }
  clearDeadTakeover(`${lockPath}.takeover`);
  const { ino, owner } = held;
  const assertHeld = () => {
    if (compromised !== undefined || !stillHeld(lockPath, ino, owner)) {
      throw new FailureError(`lost the lock on ${file} while writing; the store was not changed`, {
        hint: "run the command again",
        cause: compromised,
      });
    }
  };
  try {
    return await fn(assertHeld);
  } finally {
    // A lock taken over while we stalled is someone else's now: leave it (proper-lockfile sees that at its next refresh).
    if (compromised === undefined && (ino === undefined || inodeOf(lockPath) === ino))
      await release().catch(() => undefined);
  }
}

/**
 * The filesystem proper-lockfile uses for one acquisition: making the lock folder writes the holder's record into it
 * in the same synchronous step, and removing the folder (release, or exit) removes the record first, so a folder
 * without a record exists only for a few microseconds.
 */
function holderFs(): { fs: typeof nodeFs; ino: number | undefined; owner: OwnerRecord | undefined } {
  const held: { fs: typeof nodeFs; ino: number | undefined; owner: OwnerRecord | undefined } = {
    fs: nodeFs,
    ino: undefined,
    owner: undefined,
  };
  const mkdir = (dir: string, done: (err: NodeJS.ErrnoException | null) => void) => {
    const record = newOwner();
    try {
      nodeFs.mkdirSync(dir);
    } catch (err) {
      done(err as NodeJS.ErrnoException);
      return;
    }
    held.owner = writeOwner(dir, record);
    held.ino = inodeOf(dir);
    done(null);
  };
  const rmdirSync = (dir: string) => {
    removeOwner(dir, held.owner);
    nodeFs.rmdirSync(dir);
  };
  const rmdir = (dir: string, done: (err: NodeJS.ErrnoException | null) => void) => {
    try {
      rmdirSync(dir);
      done(null);
    } catch (err) {
      done(err as NodeJS.ErrnoException);
    }
  };
  held.fs = { ...nodeFs, mkdir, rmdir, rmdirSync } as unknown as typeof nodeFs;
  return held;
}

/**
 * Removes the lock folder `lockPath` when it is abandoned: its holder is dead (same host), or it has not been refreshed
 * for `stale` ms. Returns true when the lock is gone (removed here or by its holder), so acquiring can be tried again.
 * Synchronous, and serialized by the exclusive file `<lock>.takeover`, so two waiters never remove each other's lock.
 */
function takeOverIfAbandoned(lockPath: string, stale: number): boolean {
  const before = inodeOf(lockPath);
  if (before === undefined) return true;
  if (!abandoned(lockPath, stale)) return false;
  const mutex = `${lockPath}.takeover`;
  if (!enterTakeover(mutex)) return false;
  try {
    const now = inodeOf(lockPath);
    if (now === undefined) return true;
    if (now !== before || !abandoned(lockPath, stale)) return false;
    for (const name of readdirSync(lockPath)) unlinkSync(path.join(lockPath, name));
    rmdirSync(lockPath);
    return true;
  } catch (err) {
    return errnoOf(err) === "ENOENT";
  } finally {
    try {
      unlinkSync(mutex);
    } catch {
      // removed as stale by another waiter: nothing to undo
    }
  }
}

/** True when the lock's holder is known dead, or the lock has not been refreshed for `stale` ms. */
function abandoned(lockPath: string, stale: number): boolean {
  const owner = readOwner(lockPath);
  if (owner !== undefined && holderIsDead(owner)) return true;
  try {
    return lstatSync(lockPath).mtimeMs < Date.now() - stale;
  } catch {
    return false;
  }
}

/**
 * Creates the takeover file `mutex` exclusively; returns false when another waiter holds it. A live waiter holds it for
 * a few system calls; one left by a waiter killed in between is removed once it is 2 s old.
 */
function enterTakeover(mutex: string): boolean {
  try {
    const fd = openSync(mutex, "wx", 0o600);
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (err) {
    if (errnoOf(err) !== "EEXIST") return false;
  }
  try {
    if (lstatSync(mutex).mtimeMs < Date.now() - 2000) unlinkSync(mutex);
  } catch {
    // gone already
  }
  return false;
}

/**
 * Removes the takeover file `mutex` when the waiter that made it is dead: killed after it removed an abandoned lock and
 * before it removed its own mutex, it would otherwise stay until the next takeover. A live waiter's is left alone.
 */
function clearDeadTakeover(mutex: string): void {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(mutex, "utf8"), 10);
  } catch {
    return; // none (the usual case), or unreadable: enterTakeover's age rule deals with it
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoOf(err) !== "ESRCH") return;
    try {
      unlinkSync(mutex);
    } catch {
      // removed by another writer already
    }
  }
}

function inodeOf(file: string): number | undefined {
  try {
    return lstatSync(file).ino;
  } catch {
    return undefined;
  }
}

/** A lock is a folder that mkdir made: anything else planted there (a symlink, a file) is refused, not waited on. */
function refuseNonFolder(lockPath: string): void {
  let st;
  try {
    st = lstatSync(lockPath);
  } catch {
    return; // released meanwhile: try again
  }
  if (!st.isDirectory()) {
    throw new AccessError(
      `refusing to use the lock ${lockPath}: it is ${st.isSymbolicLink() ? "a symlink" : "not a folder"}`,
      {
        hint: `remove ${lockPath} (a lock is a folder secretfile makes and removes itself)`,
      },
    );
  }
}
