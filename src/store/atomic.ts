// Replacing a file atomically: temporary file in the same folder, fsync, rename, fsync the folder.
// Rules: the temporary name is unpredictable and created exclusively with the final mode; a failure leaves no temporary
// file and says which step failed, on which file, and what to do.

import crypto from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";
import { FailureError } from "../errors.js";
import { errnoOf } from "../system/errno.js";
import { ioHint } from "./io-error.js";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = constants;

/**
 * Replaces `file` with `data` so that a crash at any point leaves the old or the new content.
 * `beforeRename` runs last, just before the rename, and may throw to abort (e.g. a lost lock).
 * Throws FailureError (exit 1) naming the file when a step fails: before the rename the old file is untouched and the
 * temporary file is removed; when only the final fsync of the folder fails, the new content is in place and the
 * error says so.
 */
export async function replaceFile(
  file: string,
  data: Uint8Array,
  mode: number,
  beforeRename?: () => void,
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `${tempPrefix(file)}${crypto.randomBytes(8).toString("hex")}`);
  let step = "create a temporary file in";
  let created = false;
  try {
    const handle = await fs.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    created = true;
    let failure: unknown;
    try {
      // The umask may have taken bits off `mode`: set it on the descriptor, before any data is in the file.
      step = "set the mode of a temporary file in";
      await handle.chmod(mode);
      step = "write a temporary file in";
      await handle.writeFile(data);
      step = "fsync a temporary file in";
      await handle.sync();
    } catch (err) {
      failure = err;
    }
    try {
      await handle.close();
    } catch (err) {
      if (failure === undefined) {
        step = "close a temporary file in";
        failure = err;
      }
    }
    // Rethrows the caught value unchanged (the check narrows its `unknown` to `{}`).
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- see above
    if (failure !== undefined) throw failure;
    beforeRename?.();
    step = `rename the new ${path.basename(file)} into`;
    await fs.rename(tmp, file);
  } catch (err) {
    const left = created ? await removeQuietly(tmp) : undefined;
    if (err instanceof FailureError) throw err;
    const code = errnoOf(err);
    throw new FailureError(`cannot ${step} ${dir}: ${code ?? String(err)}; ${file} is unchanged`, {
      hint: ioHint(code, dir) + (left === undefined ? "" : `; also remove the temporary file ${left}`),
      cause: err,
    });
  }
  try {
    await syncFolder(dir);
  } catch (err) {
    const code = errnoOf(err);
    throw new FailureError(
      `wrote ${file}, but cannot fsync its folder ${dir}: ${code ?? String(err)}; the change is made but may not survive a crash`,
      {
        hint: ioHint(code, dir),
        cause: err,
      },
    );
  }
}

/**
 * Removes temporary files that writers killed before their rename left beside `file`. Call it only while holding the
 * file's write lock (no other writer can be using one). Never throws.
 */
export async function removeLeftovers(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = tempPrefix(file);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(prefix) && /^[0-9a-f]{16}$/.test(name.slice(prefix.length)))
      await removeQuietly(path.join(dir, name));
  }
}

function tempPrefix(file: string): string {
  return `.${path.basename(file)}.tmp-`;
}

/** Removes `file`; returns its name when it is still there afterwards. */
async function removeQuietly(file: string): Promise<string | undefined> {
  try {
    await fs.rm(file, { force: true });
    return undefined;
  } catch {
    return file;
  }
}

/** Fsyncs the folder `dir`, so a rename or removal in it survives a crash. Throws the system error. */
export async function syncFolder(dir: string): Promise<void> {
  const handle = await fs.open(dir, O_RDONLY | O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
