// Reading the audit log: its lines, from the start or from a tail, without following a symlink.
// Rules: a symlink or a non-regular file is refused (exit 4); no permission is exit 4 with `sudo secretfile audit`;
// a line longer than MAX_LINE_BYTES is reported as unreadable (null), never held whole in memory.

import { constants, promises as fs } from "node:fs";
import { AccessError, FailureError } from "../errors.js";
import { errnoOf } from "../system/errno.js";

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** The longest audit line read, in bytes (a `values` request may name 10,000 secrets). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** Where to start reading. */
export interface ReadOptions {
  /** Read only the last this many bytes (the first, partial line is dropped). */
  tailBytes?: number;
}

/**
 * Yields the lines of the audit log `file` (without their newline; a last line without one included), or null for a
 * line too long to read. Throws AccessError (4) for a symlink, a non-regular file or no permission, FailureError (1)
 * when there is no such file or it cannot be read.
 */
export async function* auditLines(file: string, opts: ReadOptions = {}): AsyncGenerator<string | null> {
  const handle = await openLog(file);
  try {
    const size = await regularSize(handle, file);
    const from = opts.tailBytes !== undefined && size > opts.tailBytes ? size - opts.tailBytes : 0;
    let dropFirst = from > 0;
    let carry: Buffer[] = [];
    let carried = 0;
    for await (const { bytes, ends } of linePieces(handle, from)) {
      carried += bytes.length;
      // Past the limit only the length is kept, so one huge line costs no memory.
      carry = carried > MAX_LINE_BYTES ? [] : [...carry, Buffer.from(bytes)];
      if (!ends) continue;
      const line = carried > MAX_LINE_BYTES ? null : Buffer.concat(carry).toString("utf8");
      carry = [];
      carried = 0;
      if (dropFirst) dropFirst = false;
      else yield line;
    }
    if (carried > 0 && !dropFirst) yield carried > MAX_LINE_BYTES ? null : Buffer.concat(carry).toString("utf8");
  } catch (err) {
    throw readFailure(err, file);
  } finally {
    await handle.close();
  }
}

/** One stretch of a line: up to its newline (`ends`), or to the end of what one read returned. */
export interface LinePiece {
  /** The bytes, without the newline; valid only until the next piece is asked for. */
  bytes: Buffer;
  ends: boolean;
}

/** Yields the file behind `handle` from byte `from` on, in pieces that never cross a newline; memory stays one chunk. */
export async function* linePieces(handle: fs.FileHandle, from: number): AsyncGenerator<LinePiece> {
  const buf = Buffer.alloc(CHUNK);
  for (let pos = from; ;) {
    const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    const chunk = buf.subarray(0, bytesRead);
    for (let start = 0; start < chunk.length;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      yield { bytes: chunk.subarray(start, end), ends: nl !== -1 };
      start = end + 1;
    }
  }
}

/** The size of the open audit log; throws AccessError (4) when it is not a regular file. */
export async function regularSize(handle: fs.FileHandle, file: string): Promise<number> {
  const st = await handle.stat();
  if (!st.isFile())
    throw new AccessError(`the audit log ${file} is not a regular file`, {
      hint: "point --audit at the agent's audit log",
    });
  return st.size;
}

/** The error to throw for `err` met while reading the audit log `file`: ours unchanged, anything else as FailureError (1). */
export function readFailure(err: unknown, file: string): unknown {
  if (err instanceof AccessError || err instanceof FailureError) return err;
  return new FailureError(`cannot read the audit log ${file}: ${errnoOf(err) ?? String(err)}`, { cause: err });
}

/**
 * Opens the audit log `file` for reading without following a symlink or blocking on a FIFO. Throws AccessError (4)
 * for a symlink or no permission, FailureError (1) when there is no such file.
 */
export async function openLog(file: string): Promise<fs.FileHandle> {
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang us before fstat can refuse it.
    return await fs.open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = errnoOf(err);
    if (code === "EACCES" || code === "EPERM") {
      throw new AccessError(`permission denied reading the audit log ${file}`, {
        hint: "only root and the service account may read it: `sudo secretfile audit`",
        cause: err,
      });
    }
    if (code === "ELOOP")
      throw new AccessError(`refusing to follow a symlink at the audit log ${file}`, {
        hint: "point --audit at the real file",
        cause: err,
      });
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new FailureError(`no audit log at ${file}`, {
        hint: "the system agent writes it (`sudo secretfile setup`); name another file with --audit FILE or SECRETFILE_AUDIT; personal mode keeps none",
        cause: err,
      });
    }
    throw new FailureError(`cannot open the audit log ${file}: ${code ?? String(err)}`, { cause: err });
  }
}
