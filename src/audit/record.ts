// The audit log's lines as data: a decision the agent made, an event (start, stop, policy reload), or junk.
// Rules: a line is a decision only when every field has its documented type; anything else is never guessed at.

/** One audit record. Names only, never values. */
export interface AuditRecord {
  op: string;
  uid: number;
  user: string | undefined;
  pid: number;
  program: string | undefined;
  cmdline: string | undefined;
  names: string[];
  given: string[];
  allowed: boolean;
  reason: string;
  /**
   * True on the line a change writes (and flushes) before it touches the store; its outcome follows on a line of its
   * own (the same op and names: allowed with what was done, or refused with the error's code). An intent with no
   * outcome after it: the agent stopped, or could not write the outcome, in between (`history NAME` says what holds).
   */
  intent?: boolean;
  /** How many names of the request a bounded line left out of `names` (a refusal keeps only the first). */
  omitted?: number;
}

/** One decision of the agent, as a line of the audit log holds it. */
export interface AuditDecision extends AuditRecord {
  /** ISO 8601, UTC. */
  time: string;
}

/** What one line of the audit log is. */
export type AuditLine =
  { kind: "decision"; record: AuditDecision } | { kind: "event" } | { kind: "blank" } | { kind: "bad" };

/** Classifies one line (null: a line too long to read). Never throws. */
export function parseAuditLine(line: string | null): AuditLine {
  if (line === null) return { kind: "bad" };
  if (line.trim() === "") return { kind: "blank" };
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return { kind: "bad" };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return { kind: "bad" };
  const r = data as Record<string, unknown>;
  if (typeof r.event === "string" && typeof r.time === "string") return { kind: "event" };
  return isDecision(r) ? { kind: "decision", record: r } : { kind: "bad" };
}

/**
 * Returns the names a decision released (values given to the caller): none unless an allowed `get`, `values` or
 * `credential` (a unit's LoadCredential=).
 */
export function namesRead(record: AuditDecision): string[] {
  return record.allowed && (record.op === "get" || record.op === "values" || record.op === "credential")
    ? record.given
    : [];
}

function isDecision(r: Record<string, unknown>): r is AuditDecision & Record<string, unknown> {
  const optionalString = (v: unknown) => v === undefined || typeof v === "string";
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
  return (
    typeof r.time === "string" &&
    !Number.isNaN(Date.parse(r.time)) &&
    typeof r.op === "string" &&
    Number.isInteger(r.uid) &&
    Number.isInteger(r.pid) &&
    optionalString(r.user) &&
    optionalString(r.program) &&
    optionalString(r.cmdline) &&
    strings(r.names) &&
    strings(r.given) &&
    typeof r.allowed === "boolean" &&
    typeof r.reason === "string" &&
    (r.intent === undefined || typeof r.intent === "boolean") &&
    (r.omitted === undefined || (Number.isSafeInteger(r.omitted) && (r.omitted as number) >= 0))
  );
}
