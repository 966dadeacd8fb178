// The audit log's hash chain: every line names the SHA-256 of the line before it, so a removed, changed or
// reordered line breaks the chain where it was. Rules: the hash is of the previous line's exact bytes without
// its newline; the first line of a log names GENESIS; nothing secret goes into a hash (the log holds no value).

import { createHash } from "node:crypto";

/** The `prev` of a log's first line: 64 zeros. */
export const GENESIS = "0".repeat(64);

/** The field that carries the chain. */
export const PREV_FIELD = "prev";

/** Returns the SHA-256 of one line's bytes (without its newline), as 64 lowercase hex digits. */
export function hashLine(line: Uint8Array | string): string {
  return createHash("sha256").update(line).digest("hex");
}

/** Returns true when `text` looks like a chain hash (64 lowercase hex digits). */
export function isChainHash(text: unknown): text is string {
  return typeof text === "string" && /^[0-9a-f]{64}$/.test(text);
}
