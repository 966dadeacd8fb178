// Where a rendered template goes: a file replaced atomically with its final mode, never through a symlink.
// Rules: the template is read whole, never through a symlink or from a FIFO (src/system/named-file.ts); the output is
// a regular file or nothing yet, replaced by rename (src/store/atomic.ts), so a reader sees the old or the new file.

import { promises as fs } from "node:fs";
import { AccessError, FailureError, UsageError } from "../errors.js";
import { replaceFile } from "../store/atomic.js";
import { errnoOf } from "../system/errno.js";
import { readNamedFile } from "../system/named-file.js";

/** The largest template accepted, in bytes. */
export const MAX_TEMPLATE_BYTES = 1024 * 1024;
/** The mode of a rendered file unless --mode says otherwise. */
export const DEFAULT_MODE = 0o600;

/** Returns the mode `text` gives (octal, 3 or 4 digits, no setuid, setgid or sticky bit); throws UsageError (2) otherwise. */
export function parseMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) {
    throw new UsageError(`invalid --mode ${JSON.stringify(text.slice(0, 20))}`, {
      hint: "give permission bits in octal, e.g. --mode 0640",
    });
  }
  return parseInt(text, 8);
}

/**
 * Returns the text of the template `file` (UTF-8). Throws AccessError (4) when it is a symlink, UsageError (2) when it
 * cannot be read, is not a regular file (a FIFO is refused, never waited on) or is too large.
 */
export function readTemplate(file: string): string {
  return readNamedFile(file, "template", MAX_TEMPLATE_BYTES);
}

/**
 * Replaces `file` with `text`, created with `mode` (temporary file in the same folder, fsync, rename, fsync of the
 * folder). Throws AccessError (4) when `file` is a symlink or not a regular file, FailureError (1) when a step fails.
 */
export async function writeRendered(file: string, text: string, mode: number): Promise<void> {
  let st;
  try {
    st = await fs.lstat(file);
  } catch (err) {
    if (errnoOf(err) !== "ENOENT")
      throw new FailureError(`cannot inspect ${file}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
  if (st !== undefined && (st.isSymbolicLink() || !st.isFile())) {
    throw new AccessError(
      `refusing to write the rendered template to ${file}: it is ${st.isSymbolicLink() ? "a symlink" : "not a regular file"}`,
      {
        hint: "give --output the real file's path (a symlink is never written through)",
      },
    );
  }
  const bytes = Buffer.from(text, "utf8");
  try {
    await replaceFile(file, bytes, mode);
  } finally {
    bytes.fill(0);
  }
}
