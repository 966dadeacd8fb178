// Reading a file the caller named on the command line (a template, a .env file): the one way, for every command.
// Rules: opened without following a symlink and without blocking, so a FIFO, device, socket or folder is refused on the
// open handle, never read or waited on; at most the limit is read; the text must be UTF-8; no error holds its text.

import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { AccessError, UsageError } from "../errors.js";
import { errnoOf } from "./errno.js";

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;

const NOT_REGULAR_HINT = "give the path of a regular file: a FIFO, a device or a folder is not read";

/**
 * Returns the text of `file`, named `what` in messages ("template", "env file"); `check`, when given, sees the status
 * of the open regular file before it is read, and may throw. Throws AccessError (exit 4) when `file` is a symlink;
 * UsageError (exit 2) when it does not exist, cannot be read, is not a regular file, is larger than `maxBytes` bytes or
 * is not UTF-8 text.
 */
export function readNamedFile(file: string, what: string, maxBytes: number, check?: (st: Stats) => void): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would wait for a writer; O_NOFOLLOW: a link is never followed (root may
    // run this on a path inside a folder another account controls).
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (cause) {
    throw openError(file, what, cause);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new UsageError(`the ${what} ${file} is not a regular file (${kindOf(st)})`, { hint: NOT_REGULAR_HINT });
    }
    check?.(st);
    const bytes = readAtMost(fd, st.size, maxBytes);
    if (bytes.length > maxBytes)
      throw new UsageError(`the ${what} ${file} is larger than the ${maxBytes} bytes allowed`);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (cause) {
      throw new UsageError(`the ${what} ${file} is not UTF-8 text`, { cause });
    }
  } catch (cause) {
    if (cause instanceof UsageError || cause instanceof AccessError) throw cause;
    throw new UsageError(`cannot read the ${what} ${file} (${errnoOf(cause) ?? String(cause)})`, { cause });
  } finally {
    closeSync(fd);
  }
}

/** The error for an open that failed: a symlink is refused (4), anything else names why in words where it can (2). */
function openError(file: string, what: string, cause: unknown): Error {
  const code = errnoOf(cause);
  if (code === "ELOOP") {
    return new AccessError(`refusing to follow a symlink at the ${what} ${file}`, {
      hint: `name the file itself (\`readlink -f ${file}\` prints its path); a pipe or a process substitution <(…) is not read`,
      cause,
    });
  }
  // ENXIO: a socket, or a device with no driver behind it.
  if (code === "ENXIO") return new UsageError(`the ${what} ${file} is not a regular file`, { hint: NOT_REGULAR_HINT });
  const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (code ?? String(cause));
  return new UsageError(`cannot read the ${what} ${file} (${why})`, { cause });
}

/** Returns what `st` is, for a message: "a FIFO", "a folder", ... */
function kindOf(st: Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isDirectory()) return "a folder";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

/** Reads `fd` to its end or to one byte past `maxBytes`, whichever comes first (a file may grow after fstat). */
function readAtMost(fd: number, size: number, maxBytes: number): Buffer {
  let buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
  let length = 0;
  for (;;) {
    const n = readSync(fd, buf, length, buf.length - length, null);
    if (n === 0) return buf.subarray(0, length);
    length += n;
    if (length > maxBytes) return buf.subarray(0, length);
    if (length === buf.length) {
      const bigger = Buffer.alloc(Math.min(buf.length * 2, maxBytes + 1));
      buf.copy(bigger);
      buf = bigger;
    }
  }
}
