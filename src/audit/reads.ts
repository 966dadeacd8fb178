// What the audit log says about reads, for `secretfile report`: the refusals since a time, and each reader's last read.
// Rules: one pass over the log's last SEED_BYTES, never following a symlink; refusals kept up to MAX_REFUSED, the rest
// counted; names only, never a value.

import { SEED_BYTES } from "./last-read.js";
import { auditLines } from "./log-file.js";
import { namesRead, parseAuditLine, type AuditDecision } from "./record.js";

/** The most refused reads kept for a report; more are counted. */
export const MAX_REFUSED = 1_000;

/** The operations that ask for values. */
const READ_OPS: ReadonlySet<string> = new Set(["get", "values", "credential"]);

/** A reader's last read of a name: when, and who (uid and user name). */
export interface ReaderRead {
  time: string;
  uid: number;
  user: string | undefined;
}

/** What the scan found. */
export interface ReadsSeen {
  /** Refused reads at or after `since`, in log order. */
  refused: AuditDecision[];
  /** Refused reads beyond MAX_REFUSED, not kept. */
  refusedDropped: number;
  /** By secret name, by uid: the last read released. */
  lastReads: Map<string, Map<number, ReaderRead>>;
}

/** Reads the end of the audit log `file`. Throws the errors of auditLines (4 no permission or unsafe file, 1 missing). */
export async function scanReads(file: string, since: Date): Promise<ReadsSeen> {
  const seen: ReadsSeen = { refused: [], refusedDropped: 0, lastReads: new Map() };
  for await (const line of auditLines(file, { tailBytes: SEED_BYTES })) {
    const parsed = parseAuditLine(line);
    if (parsed.kind !== "decision" || !READ_OPS.has(parsed.record.op)) continue;
    const r = parsed.record;
    if (!r.allowed) {
      if (Date.parse(r.time) < since.getTime()) continue;
      if (seen.refused.length < MAX_REFUSED) seen.refused.push(r);
      else seen.refusedDropped++;
      continue;
    }
    for (const name of namesRead(r)) {
      const byUid = seen.lastReads.get(name) ?? new Map<number, ReaderRead>();
      seen.lastReads.set(name, byUid);
      const known = byUid.get(r.uid);
      if (known === undefined || Date.parse(known.time) <= Date.parse(r.time))
        byUid.set(r.uid, { time: r.time, uid: r.uid, user: r.user });
    }
  }
  return seen;
}
