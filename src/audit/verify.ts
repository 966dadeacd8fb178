// `secretfile audit verify`: walking the audit log's hash chain and saying where it breaks.
// Rules: hashes are of the exact bytes (never re-encoded text); every break is reported with its line number and
// the walk goes on from there; memory stays bounded whatever the log's size or its longest line.

import { createHash } from "node:crypto";
import { GENESIS } from "./chain.js";
import { linePieces, MAX_LINE_BYTES, openLog, readFailure, regularSize } from "./log-file.js";

/** One place where the chain does not hold. */
export interface ChainBreak {
  /** 1-based line number. */
  line: number;
  /** What is wrong, for a person. */
  why: string;
}

/** What verifying a log found. */
export interface ChainReport {
  /** Lines in the file. */
  lines: number;
  /** Lines at the start written before the log was chained (no `prev`): not verifiable. */
  unchained: number;
  /** The hash of the last line (GENESIS for an empty log): the `prev` the agent writes next. */
  head: string;
  breaks: ChainBreak[];
}

const PREV = /^\{"prev":"([0-9a-f]{64})"[,}]/;
const RECENT = 4096;

/**
 * Walks the chain of the audit log `file`. Resolves with what it found (an empty `breaks` means intact).
 * Throws AccessError (4) for a symlink, a non-regular file or no permission, FailureError (1) when it cannot be read.
 */
export async function verifyAuditLog(file: string): Promise<ChainReport> {
  const handle = await openLog(file);
  const report: ChainReport = { lines: 0, unchained: 0, head: GENESIS, breaks: [] };
  // Recent line hashes → their line numbers, to say "lines j+1..n-1 do not belong here" when a line names an older one.
  const recent = new Map<string, number>();
  let chained = false;
  const check = (head: Buffer, complete: boolean, hash: string, endsWithNewline: boolean) => {
    const n = ++report.lines;
    const prev = PREV.exec(head.toString("latin1"))?.[1];
    const before = report.head;
    if (prev === undefined) {
      if (!chained && report.breaks.length === 0) report.unchained++;
      else
        report.breaks.push({
          line: n,
          why: "it carries no chain hash: it was written or changed by something other than the agent",
        });
    } else {
      if (!chained && n === 1 && prev !== GENESIS) {
        report.breaks.push({
          line: n,
          why: "it does not start the chain: lines were removed from the start of the log (or it continues a log rotated by copying)",
        });
      } else if (prev !== before) {
        const j = recent.get(prev);
        report.breaks.push({
          line: n,
          why:
            j !== undefined && j < n - 1
              ? `it follows line ${j}, not line ${n - 1}: line${n - 1 > j + 1 ? `s ${j + 1}–${n - 1} do` : ` ${n - 1} does`} not belong between them (inserted or moved)`
              : `it does not follow line ${n - 1}: line ${n - 1} was changed, or lines before line ${n} were removed or reordered`,
        });
      }
      chained = true;
    }
    if (complete && !validJson(head))
      report.breaks.push({ line: n, why: "it is not a complete JSON record (cut short, or edited)" });
    else if (!endsWithNewline)
      report.breaks.push({ line: n, why: "it has no newline at its end (cut short by a crash, or edited)" });
    report.head = hash;
    recent.set(hash, n);
    if (recent.size > RECENT) recent.delete(recent.keys().next().value!);
  };
  try {
    await regularSize(handle, file);
    let hash = createHash("sha256");
    let kept: Buffer[] = [];
    let keptBytes = 0;
    let lineBytes = 0;
    for await (const { bytes, ends } of linePieces(handle, 0)) {
      hash.update(bytes);
      lineBytes += bytes.length;
      // A line's text is kept only up to the limit: past it, its hash and its first bytes are enough.
      if (keptBytes < MAX_LINE_BYTES) {
        kept.push(Buffer.from(bytes.subarray(0, MAX_LINE_BYTES - keptBytes)));
        keptBytes += Math.min(bytes.length, MAX_LINE_BYTES - keptBytes);
      }
      if (!ends) continue;
      check(Buffer.concat(kept), lineBytes <= MAX_LINE_BYTES, hash.digest("hex"), true);
      hash = createHash("sha256");
      kept = [];
      keptBytes = 0;
      lineBytes = 0;
    }
    if (lineBytes > 0) check(Buffer.concat(kept), lineBytes <= MAX_LINE_BYTES, hash.digest("hex"), false);
  } catch (err) {
    throw readFailure(err, file);
  } finally {
    await handle.close();
  }
  return report;
}

function validJson(line: Buffer): boolean {
  try {
    const data: unknown = JSON.parse(line.toString("utf8"));
    return typeof data === "object" && data !== null && !Array.isArray(data);
  } catch {
    return false;
  }
}
