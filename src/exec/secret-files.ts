// Secrets handed to a job as files (`exec --file`): a fresh 0700 folder on a memory file system, one 0600 file each.
// Rules: never on a disk (refused when no tmpfs is found); files are created exclusively with their final mode; the
// folder goes when the job ends, fails to start, or secretfile gets a signal; one left by a killed secretfile is
// removed by the next --file run of the same user.

import {
  closeSync,
  constants,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  statSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { FailureError } from "../errors.js";
import { catchSignals } from "./signals.js";
import { errnoOf } from "../system/errno.js";

/** statfs(2) magic numbers of the memory file systems. */
const MEMORY_FS = new Set([0x01021994 /* tmpfs */, 0x858458f6 /* ramfs */]);
/** The prefix of every folder made here; the pid of the secretfile that made it follows. */
const PREFIX = "secretfile-exec-";

/** Returns true when `dir` is a folder on a memory file system (tmpfs or ramfs). */
export function isMemoryFolder(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && MEMORY_FS.has(statfsSync(dir).type);
  } catch {
    return false;
  }
}

/**
 * Makes a fresh 0700 folder in `$XDG_RUNTIME_DIR` when it is set and a memory file system, else in `/dev/shm`.
 * Throws FailureError (exit 1) when neither can be used: a secret is never written to a disk.
 */
export function makeMemoryFolder(env: NodeJS.ProcessEnv): string {
  for (const base of [env.XDG_RUNTIME_DIR, "/dev/shm"]) {
    if (base === undefined || !path.isAbsolute(base) || !isMemoryFolder(base)) continue;
    sweep(base);
    try {
      return mkdtempSync(path.join(base, `${PREFIX}${process.pid}-`));
    } catch {
      continue;
    }
  }
  throw new FailureError(
    "no memory file system to hold --file secrets: $XDG_RUNTIME_DIR is not a tmpfs and /dev/shm is not usable",
    {
      hint: "secrets are never written to a disk; pass the secret in the environment instead (--only or --map)",
    },
  );
}

/** Writes each value of `secrets` (name → value) to `<dir>/<name>`, created exclusively with mode 0600. Returns name → path. */
export function writeSecretFiles(dir: string, secrets: Map<string, string>): Map<string, string> {
  const paths = new Map<string, string>();
  for (const [name, value] of secrets) {
    const file = path.join(dir, name);
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const bytes = Buffer.from(value, "utf8");
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
    } finally {
      closeSync(fd);
    }
    paths.set(name, file);
  }
  return paths;
}

/**
 * Writes `secrets` (name → value) to files in a fresh memory folder, calls `run` with name → path, and removes the
 * folder when `run` settles. `run` must start the job and take over the signals it passes on before its first
 * `await`: from before the folder is made, every terminating signal secretfile can catch is held (signals.ts; it
 * reaches the job once `run` routes them), so that secretfile never ends with the folder still there. With no secrets, `run` gets an empty map and nothing is made.
 */
export async function withSecretFiles<T>(
  secrets: Map<string, string>,
  env: NodeJS.ProcessEnv,
  run: (paths: Map<string, string>) => Promise<T>,
): Promise<T> {
  if (secrets.size === 0) return run(new Map());
  // A listener replaces the default action (ending at once), and stays until secretfile ends: a signal never ends it
  // between the folder's making and its removal.
  catchSignals();
  let dir: string | undefined;
  try {
    dir = makeMemoryFolder(env);
    let paths: Map<string, string>;
    try {
      paths = writeSecretFiles(dir, secrets);
    } catch (cause) {
      throw new FailureError(`cannot write the --file secrets in ${dir} (${errnoOf(cause) ?? "error"})`, { cause });
    }
    return await run(paths);
  } finally {
    if (dir !== undefined) removeFolder(dir);
  }
}

/** Removes `dir` and what it holds; throws FailureError (exit 1) naming it if that fails. */
function removeFolder(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (cause) {
    throw new FailureError(`cannot remove ${dir}, which holds --file secrets (${errnoOf(cause) ?? "error"})`, {
      hint: `remove it by hand: rm -r ${dir}`,
      cause,
    });
  }
}

/** Removes folders in `base` left by a secretfile of this user that no longer runs (it was killed with SIGKILL). */
function sweep(base: string): void {
  let entries: string[];
  try {
    entries = readdirSync(base).filter((e) => e.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = Number(/^secretfile-exec-(\d+)-/.exec(entry)?.[1]);
    const dir = path.join(base, entry);
    try {
      const st = lstatSync(dir, { throwIfNoEntry: false });
      if (
        st === undefined ||
        !st.isDirectory() ||
        st.uid !== process.getuid?.() ||
        !Number.isInteger(pid) ||
        pid === process.pid ||
        alive(pid)
      )
        continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another secretfile may be removing it too; a folder left now is tried again next time.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) !== "ESRCH";
  }
}
