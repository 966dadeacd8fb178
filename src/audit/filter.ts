// Which audit decisions `secretfile audit` shows: by secret name (globs), by user, since a time, refusals only.
// Rules: every filter given must match (AND); times are UTC, as the log writes them; a bad --since is a usage error.

import { UsageError } from "../errors.js";
import { matchesPattern } from "../policy/evaluate.js";
import type { AuditDecision } from "./record.js";

/** The filters of `secretfile audit`; an absent one matches everything. */
export interface AuditFilter {
  /** A secret name or glob, matched against the names asked for and the names released (a list matches none). */
  name?: string;
  /** A user name or a uid in decimal. */
  user?: string;
  /** Only decisions at or after this time. */
  since?: Date;
  /** Only refusals. */
  denied?: boolean;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses `--since`: a duration back from `now` (`30m`, `12h`, `7d`, `2w`), a date (`2026-11-01`, midnight UTC) or an
 * ISO 8601 time (UTC unless it names a zone). Throws UsageError (2) for anything else.
 */
export function parseSince(text: string, now: Date = new Date()): Date {
  const duration = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (duration !== null) return new Date(now.getTime() - Number(duration[1]) * UNITS[duration[2]!]!);
  const date = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(
    text.trim(),
  );
  if (date !== null) {
    const [y, mo, d, h, mi, s] = date.slice(1, 7).map((part: string | undefined) => Number(part ?? 0)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const utc = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
    const real =
      utc.getUTCFullYear() === y &&
      utc.getUTCMonth() === mo - 1 &&
      utc.getUTCDate() === d &&
      utc.getUTCHours() === h &&
      utc.getUTCMinutes() === mi;
    const zone = date[7];
    if (real) return zone === undefined ? utc : new Date(utc.getTime() - zoneOffsetMs(zone));
  }
  throw new UsageError(`--since ${JSON.stringify(text)} is neither a duration nor a date`, {
    hint: "e.g. --since 7d, --since 12h, --since 2026-11-01 or --since 2026-11-01T08:00Z (times are UTC)",
  });
}

/** Returns a zone's offset from UTC in ms: `Z` 0, `+05:30` 5.5 h. */
function zoneOffsetMs(zone: string): number {
  if (zone === "Z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}

/** Checks a --name filter: a secret name or a glob of one. Throws UsageError (2) otherwise. */
export function checkNameFilter(text: string): string {
  if (!/^[A-Za-z_*?][A-Za-z0-9_*?]{0,127}$/.test(text)) {
    throw new UsageError(`--name ${JSON.stringify(text)} is not a secret name or a glob of one`, {
      hint: "e.g. --name MERAKI_API_KEY or --name 'WEBEX_*'",
    });
  }
  return text;
}

/** Returns true when `record` passes every filter in `filter`. Never throws. */
export function matchesFilter(record: AuditDecision, filter: AuditFilter): boolean {
  if (filter.denied === true && record.allowed) return false;
  if (filter.since !== undefined && Date.parse(record.time) < filter.since.getTime()) return false;
  if (filter.user !== undefined) {
    const byUid = /^\d+$/.test(filter.user) && record.uid === Number(filter.user);
    if (!byUid && record.user !== filter.user) return false;
  }
  if (filter.name !== undefined) {
    const pattern = filter.name;
    // A list's `given` are the names it showed, not released: a list is not about any one secret.
    const about = record.op === "list" ? record.names : [...record.names, ...record.given];
    if (!about.some((n) => matchesPattern(pattern, n))) return false;
  }
  return true;
}
