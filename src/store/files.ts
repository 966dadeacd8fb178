// Opening the store's files safely: no symlinks followed, owner and mode checked on the open handle.
// Rules: refuse a file or folder that another user owns or that group or others can read or write, as ssh refuses a key.

import crypto from "node:crypto";
import { closeSync, constants, fstatSync, lstatSync, openSync, promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { AccessError, ExistsError, FailureError, SecretfileError } from "../errors.js";
import { ioHint } from "./io-error.js";
import { errnoOf } from "../system/errno.js";

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY } = constants;

/** What a caller expects of a file it opens. */
export interface FileRules {
  /** A human name for the file in messages, e.g. "identity" or "store". */
  what: string;
  /** Bits that must be clear in the mode (0o077 for a private file). */
  forbiddenMode: number;
  /** The largest size accepted, in bytes. */
  maxBytes: number;
  /** Accept root as the owner too (a systemd credential: root-owned, readable by us through an ACL). */
  rootMayOwn?: boolean;
  /** The uid that must own it, when not this process's (root reading the service account's identity). */
  owner?: number;
  /** The mode a hint asks for (by default 0600, or the current mode without `forbiddenMode`). */
  mode?: number;
}

/**
 * Reads `file` without following a symlink, after checking on the open handle that it is a regular
 * file owned by this process's user with no `forbiddenMode` bits set.
 * Returns null when the file does not exist. Throws AccessError (exit 4) for an unsafe file.
 * Its system calls are made synchronously: a few small reads, which through the thread pool cost a CLI's start more
 * (starting the pool, a round trip per call: about 1.5 ms, bench/limits.md) than they take.
 */
export async function readPrivateFile(file: string, rules: FileRules): Promise<Buffer | null> {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang us before fstat can refuse it.
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return null;
    if (errnoOf(err) === "ELOOP") {
      throw new AccessError(`refusing to follow a symlink at the ${rules.what} ${file}`, {
        hint: `replace the link with the real file, or point secretfile at the real folder`,
      });
    }
    if (errnoOf(err) === "EACCES") {
      // Name the owner, and the fix when the file belongs to someone else (say root, after a careless copy).
      const owner = ownerOf(file);
      const me = process.getuid?.();
      throw new AccessError(
        `permission denied reading the ${rules.what} ${file}${owner === undefined ? "" : ` (owned by uid ${owner})`}`,
        {
          hint:
            owner !== undefined && me !== undefined && owner !== me
              ? `sudo chown ${me} ${file}  (or run secretfile as its owner, uid ${owner})`
              : owner !== undefined && owner === me
                ? `chmod ${(rules.mode ?? 0o600).toString(8)} ${file}`
                : "run as the user that owns it, or use the system agent",
          cause: err,
        },
      );
    }
    throw new FailureError(`cannot open the ${rules.what} ${file}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    checkOwnerAndMode(file, rules, st.uid, st.mode, st.isFile());
    if (st.size > rules.maxBytes) {
      throw new FailureError(
        `the ${rules.what} ${file} is ${st.size} bytes, larger than the ${rules.maxBytes} allowed`,
      );
    }
    return readFileSync(fd);
  } catch (err) {
    if (err instanceof SecretfileError) throw err;
    throw new FailureError(`cannot read the ${rules.what} ${file}: ${errnoOf(err) ?? String(err)}`, {
      hint:
        errnoOf(err) === "EIO"
          ? "the disk reported an I/O error: check it (`dmesg`) and keep the file's backup at hand"
          : "run the command again",
      cause: err,
    });
  } finally {
    try {
      closeSync(fd);
    } catch {
      // nothing more to do with it
    }
  }
}

function ownerOf(file: string): number | undefined {
  try {
    return lstatSync(file).uid;
  } catch {
    return undefined;
  }
}

/**
 * Checks a folder that holds private files: owned by this user, not writable by group or others,
 * and not a symlink. Throws AccessError (exit 4) with the fix.
 */
export async function checkPrivateFolder(dir: string): Promise<void> {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return;
    throw new FailureError(`cannot inspect the folder ${dir}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
  if (st.isSymbolicLink()) {
    throw new AccessError(`refusing to use ${dir}: it is a symlink`, { hint: "point --dir at the real folder" });
  }
  checkOwnerAndMode(dir, { what: "folder", forbiddenMode: 0o022, maxBytes: 0 }, st.uid, st.mode, st.isDirectory());
}

function checkOwnerAndMode(file: string, rules: FileRules, uid: number, mode: number, rightKind: boolean): void {
  const me = process.getuid?.() ?? uid;
  if (!rightKind) {
    throw new AccessError(`the ${rules.what} ${file} is not a regular ${rules.what === "folder" ? "folder" : "file"}`, {
      hint: "move it aside and run the command again",
    });
  }
  const want = rules.owner ?? me;
  if (uid !== want && !(rules.rootMayOwn === true && uid === 0)) {
    throw new AccessError(
      `the ${rules.what} ${file} is owned by uid ${uid}, not by ${rules.owner === undefined ? `you (uid ${me})` : `uid ${want}`}`,
      { hint: `sudo chown ${want} ${file}  (or run secretfile as its owner)` },
    );
  }
  const bad = mode & rules.forbiddenMode;
  if (bad !== 0) {
    const safe = (rules.mode ?? mode & 0o777 & ~rules.forbiddenMode).toString(8).padStart(3, "0");
    throw new AccessError(
      `the ${rules.what} ${file} has mode ${(mode & 0o777).toString(8).padStart(3, "0")}: group or others can ${bad & 0o022 ? "write" : "read"} it`,
      { hint: `chmod ${safe} ${file}` },
    );
  }
}

/**
 * Creates `file` with `data` and its final `mode` (no chmod afterwards), all or nothing: the data is written and
 * fsynced under a temporary name, then linked into place, which fails if `file` exists. A failure or a crash leaves
 * no partial `file`. Throws ExistsError (exit 1) if it already exists, FailureError (exit 1) when a step fails.
 */
export async function createExclusive(
  file: string,
  data: Uint8Array | string,
  mode: number,
  what: string,
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${crypto.randomBytes(8).toString("hex")}`);
  const fail = (err: unknown) =>
    new FailureError(`cannot create the ${what} ${file}: ${errnoOf(err) ?? String(err)}`, {
      hint: ioHint(errnoOf(err), dir),
      cause: err,
    });
  try {
    await writeNew(tmp, data, mode);
  } catch (err) {
    throw fail(err);
  }
  try {
    await fs.link(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    if (errnoOf(err) === "EEXIST") {
      throw new ExistsError(`the ${what} ${file} already exists`, {
        hint: "keep it, or move it aside to start over",
        cause: err,
      });
    }
    if (!NO_LINKS.has(errnoOf(err) ?? "")) throw fail(err);
    // A filesystem without hard links: create the file itself, and remove it again if the write fails.
    try {
      await writeNew(file, data, mode);
    } catch (err2) {
      if (errnoOf(err2) === "EEXIST")
        throw new ExistsError(`the ${what} ${file} already exists`, {
          hint: "keep it, or move it aside to start over",
          cause: err2,
        });
      await fs.rm(file, { force: true }).catch(() => undefined);
      throw fail(err2);
    }
  }
  await fs.rm(tmp, { force: true }).catch(() => undefined);
  try {
    const handle = await fs.open(dir, O_RDONLY | O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await fs.rm(file, { force: true }).catch(() => undefined);
    throw fail(err);
  }
}

/** Errors of link(2) on filesystems that have no hard links. */
const NO_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/** Writes `data` to the new file `file` (exclusive create, final mode, no symlink followed) and fsyncs it; removes it on failure. */
async function writeNew(file: string, data: Uint8Array | string, mode: number): Promise<void> {
  const handle = await fs.open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(file, { force: true }).catch(() => undefined);
    throw err;
  }
}
