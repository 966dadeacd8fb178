// Making setup's folders and files with their owner and mode, without following symlinks.
// Rules: a file is created exclusively and set to its final owner and mode through its descriptor before any
// content is written (never chmod by path); an existing file is never overwritten, except units, replaced atomically.

import { randomBytes } from "node:crypto";
import { constants, promises as fs, type Stats } from "node:fs";
import path from "node:path";
import { AccessError, ExistsError, FailureError } from "../errors.js";
import { errnoOf } from "../system/errno.js";
import { octal, type ActionLog } from "./actions.js";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;

/** An owner and mode, with names for messages. */
export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
  /** e.g. "secretfile:secretfile" or "root:root". */
  owner: string;
}

/** Which entries of an existing folder are setup's own: only a folder holding nothing else may be changed. */
export interface OwnEntries {
  /** True for a name setup (or the agent) puts in this folder. */
  name: (entry: string) => boolean;
  /** The uids that may own such an entry (undefined: any, when the service account does not exist yet). */
  owners: number[] | undefined;
  /** What to do instead, e.g. "give the audit log a folder of its own, such as …". */
  hint: string;
}

/**
 * Returns what ensureFolder would do to `dir`: "create" it, "keep" it (already `want`) or "fix" its owner or mode,
 * changing nothing. Throws AccessError (4) when `dir` is a symlink or not a folder, or when it would need fixing but
 * holds an entry that is not setup's own (`own`): setup never takes over a folder such as /var/log or /etc.
 */
export async function planFolder(
  dir: string,
  want: Ownership,
  what: string,
  own: OwnEntries,
): Promise<"create" | "keep" | "fix"> {
  const st = await lstatOrNull(dir);
  if (st === null) return "create";
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new AccessError(
      `refusing to use ${dir} as ${what}: it is ${st.isSymbolicLink() ? "a symlink" : "not a folder"}`,
      {
        hint: `move it aside and run setup again; setup creates ${dir}`,
      },
    );
  }
  if (st.uid === want.uid && st.gid === want.gid && (st.mode & 0o7777) === want.mode) return "keep";
  const foreign = await foreignEntries(dir, own);
  if (foreign.length > 0) {
    const first = foreign[0]!;
    throw new AccessError(
      `refusing to take over ${dir} as ${what}: it holds ${foreign.length === 1 ? "an entry" : `${foreign.length} entries`} setup did not make ` +
        `(${JSON.stringify(first)}${foreign.length > 1 ? ", …" : ""}), and setup would change its owner and mode from uid ${st.uid}, gid ${st.gid}, ` +
        `${octal(st.mode)} to ${want.owner} ${octal(want.mode)}; nothing was changed`,
      { hint: own.hint },
    );
  }
  return "fix";
}

// The entries of `dir` that are not setup's own (by name and owner), in name order.
async function foreignEntries(dir: string, own: OwnEntries): Promise<string[]> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (err) {
    throw new FailureError(`cannot list the folder ${dir}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
  const foreign: string[] = [];
  for (const name of names) {
    if (!own.name(name)) foreign.push(name);
    else if (own.owners !== undefined) {
      const st = await lstatOrNull(path.join(dir, name));
      if (st !== null && !own.owners.includes(st.uid)) foreign.push(name);
    }
  }
  return foreign;
}

/**
 * Makes the folder `dir` with `want` (its missing parents as root 0755), or brings an existing one to `want` when it
 * holds only setup's own entries (planFolder), and records "created", "fixed" or "kept" in `log`. Throws AccessError
 * (4) when `dir` or a parent is a symlink or not a folder, or `dir` holds others' entries; FailureError otherwise.
 */
export async function ensureFolder(
  dir: string,
  want: Ownership,
  what: string,
  own: OwnEntries,
  log: ActionLog,
): Promise<void> {
  const plan = await planFolder(dir, want, what, own);
  if (plan === "create") {
    await makeParents(path.dirname(dir), log);
    try {
      await fs.mkdir(dir, { mode: 0o700 });
    } catch (err) {
      // Made by someone else meanwhile: judged like any existing folder.
      if (errnoOf(err) === "EEXIST") return ensureFolder(dir, want, what, own, log);
      throw new FailureError(`cannot create the folder ${dir}: ${errnoOf(err) ?? String(err)}`, { cause: err });
    }
    await setFolder(dir, want);
    log.add("created", `${what} ${dir} (${want.owner} ${octal(want.mode)})`);
    return;
  }
  const was = plan === "keep" ? null : await setFolder(dir, want);
  if (was === null) log.add("kept", `${what} ${dir} (${want.owner} ${octal(want.mode)})`);
  else
    log.add(
      "fixed",
      `${what} ${dir}: now ${want.owner} ${octal(want.mode)} (was uid ${was.uid}, gid ${was.gid}, ${octal(was.mode)})`,
    );
}

// Sets owner and mode through a descriptor opened without following a symlink; returns what it was, or null if unchanged.
async function setFolder(dir: string, want: Ownership): Promise<{ uid: number; gid: number; mode: number } | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    throw new AccessError(`cannot open the folder ${dir}: ${errnoOf(err) ?? String(err)}`, {
      hint: "it must be a real folder, not a symlink",
      cause: err,
    });
  }
  try {
    const st = await handle.stat();
    const was = { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
    if (was.uid === want.uid && was.gid === want.gid && was.mode === want.mode) return null;
    await handle.chown(want.uid, want.gid);
    await handle.chmod(want.mode);
    return was;
  } finally {
    await handle.close();
  }
}

// Creates the missing ancestors of `dir` as root 0755 (whatever the umask), refusing a symlink on the way.
async function makeParents(dir: string, log: ActionLog): Promise<void> {
  const st = await lstatOrNull(dir);
  if (st !== null) {
    if (!st.isDirectory())
      throw new AccessError(
        `refusing to create folders under ${dir}: it is ${st.isSymbolicLink() ? "a symlink" : "not a folder"}`,
      );
    return;
  }
  await makeParents(path.dirname(dir), log);
  try {
    await fs.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if (errnoOf(err) !== "EEXIST")
      throw new FailureError(`cannot create the folder ${dir}: ${errnoOf(err) ?? String(err)}`, { cause: err });
    return;
  }
  await setFolder(dir, { uid: 0, gid: 0, mode: 0o755, owner: "root:root" });
  log.add("created", `the folder ${dir} (root:root 0755)`);
}

/**
 * Creates `file` exclusively (no symlink followed), sets its owner and mode on the descriptor (so the
 * umask cannot change it), then writes and fsyncs `data`. Throws ExistsError (1) if it exists,
 * FailureError otherwise.
 */
export async function createOwnedFile(file: string, data: string, want: Ownership, what: string): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, want.mode);
  } catch (err) {
    if (errnoOf(err) === "EEXIST") throw new ExistsError(`the ${what} ${file} already exists`, { cause: err });
    throw new FailureError(`cannot create the ${what} ${file}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
  try {
    await handle.chown(want.uid, want.gid);
    await handle.chmod(want.mode);
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(file, { force: true });
    throw new FailureError(`cannot write the ${what} ${file}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
  await handle.close();
}

/**
 * Makes `file` hold `data` (root:root 0644): kept when it already does, else replaced atomically
 * (temporary file, fsync, rename). Returns "created", "updated" or "kept". Throws AccessError (4)
 * when `file` is a symlink (a masked unit, say) or not a regular file.
 */
export async function writeIfDifferent(
  file: string,
  data: string,
  what: string,
): Promise<"created" | "updated" | "kept"> {
  const st = await lstatOrNull(file);
  if (st !== null) {
    if (st.isSymbolicLink() || !st.isFile()) {
      throw new AccessError(
        `refusing to replace the ${what} ${file}: it is ${st.isSymbolicLink() ? "a symlink (is the unit masked?)" : "not a regular file"}`,
        {
          hint: `remove it (systemctl unmask, or rm) and run setup again`,
        },
      );
    }
    const old = await fs.readFile(file, { encoding: "utf8", flag: O_RDONLY | O_NOFOLLOW });
    if (old === data && (st.mode & 0o7777) === 0o644 && st.uid === 0) return "kept";
  }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${randomBytes(8).toString("hex")}`);
  try {
    await createOwnedFile(tmp, data, { uid: 0, gid: 0, mode: 0o644, owner: "root:root" }, what);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return st === null ? "created" : "updated";
}

/** Returns lstat of `file`, or null when nothing is there. Throws FailureError for any other error. */
export async function lstatOrNull(file: string): Promise<Stats | null> {
  try {
    return await fs.lstat(file);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return null;
    throw new FailureError(`cannot inspect ${file}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
}
