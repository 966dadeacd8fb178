// Answering "who read this key, from which program, when" from the audit log, one decision at a time.
// Rules: events (start, stop, policy reload) are not decisions and are passed over; a line that is not a record
// (a truncated last line, a damaged one) is counted, never fatal; nothing is held but the current line.

import { matchesFilter, type AuditFilter } from "./filter.js";
import { auditLines } from "./log-file.js";
import { parseAuditLine, type AuditDecision } from "./record.js";

/** What a query went through. */
export interface QueryCounts {
  /** Decisions that passed the filters. */
  matched: number;
  /** Decisions in the log, matching or not. */
  decisions: number;
  /** Lines that are not audit records (a truncated last line, say). */
  skipped: number;
}

/**
 * Calls `onMatch` with each decision in `file` that passes `filter`, in log order; resolves with the counts.
 * Throws the errors of auditLines (4 for no permission or an unsafe file, 1 for a missing one).
 */
export async function queryAudit(
  file: string,
  filter: AuditFilter,
  onMatch: (record: AuditDecision) => void | Promise<void>,
): Promise<QueryCounts> {
  const counts: QueryCounts = { matched: 0, decisions: 0, skipped: 0 };
  for await (const line of auditLines(file)) {
    const parsed = parseAuditLine(line);
    if (parsed.kind === "bad") counts.skipped++;
    if (parsed.kind !== "decision") continue;
    counts.decisions++;
    if (!matchesFilter(parsed.record, filter)) continue;
    counts.matched++;
    await onMatch(parsed.record);
  }
  return counts;
}
