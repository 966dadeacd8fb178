// Replacing a file atomically: temporary file in the same folder, fsync, rename, fsync the folder.
// Rules: the temporary name is unpredictable and created exclusively with the final mode; a failure leaves no temporary file.

import { randomBytes } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";
import { FailureError } from "../errors.js";
import { errno } from "./files.js";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = constants;

/**
 * Replaces `file` with `data` so that a crash at any point leaves the old or the new content.
 * `beforeRename` runs last, just before the rename, and may throw to abort (e.g. a lost lock).
 * Throws FailureError (exit 1) naming the file when a step fails; the old file is then untouched.
 */
export async function replaceFile(file: string, data: Uint8Array, mode: number, beforeRename?: () => void): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${randomBytes(8).toString("hex")}`);
  let step = "create a temporary file in";
  try {
    const handle = await fs.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    try {
      step = "write a temporary file in";
      await handle.writeFile(data);
      step = "fsync a temporary file in";
      await handle.sync();
    } finally {
      await handle.close();
    }
    beforeRename?.();
    step = "rename the new store into";
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    if (err instanceof FailureError) throw err;
    throw new FailureError(`cannot ${step} ${dir}: ${errno(err) ?? String(err)}; ${file} is unchanged`, {
      hint: "check free space and permissions of that folder",
      cause: err,
    });
  }
  await syncFolder(dir);
}

async function syncFolder(dir: string): Promise<void> {
  const handle = await fs.open(dir, O_RDONLY | O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
