// What needs a person's attention, secret by secret, for `secretfile report` (which cron mails) and `doctor`: expired,
// expiring soon, due for rotation, unread for long, refused reads, and expected readers that stopped reading.
// Rules: names, dates, users and programs only, never a value; nothing found is an empty list (the report stays quiet).

import { parseSince } from "../audit/filter.js";
import type { ReadsSeen, ReaderRead } from "../audit/reads.js";
import { UsageError } from "../errors.js";
import { describeUser, shortCommand } from "../audit/format.js";
import { subjectMatches, matchesPattern } from "../policy/evaluate.js";
import { formatDuration, formatSubject, type ExpectRule } from "../policy/parse.js";
import type { SecretInfo } from "../store/document.js";
import { attention, describeAttention } from "../store/expiry.js";
import { lookupUser } from "../system/users.js";

/** What kind of finding. */
export type ReportKind = "expired" | "expiring" | "due" | "unread" | "refused" | "missed";

/** One finding about one secret. */
export interface ReportFinding {
  name: string;
  kind: ReportKind;
  /** One line, starting with the name. */
  text: string;
}

/** What the findings are made from. */
export interface ReportInput {
  secrets: SecretInfo[];
  now: Date;
  /** A secret expiring before this time is "expiring". */
  expiringBefore: Date;
  /** Read facts from the audit log (system mode only); without them, no unread, refused or missed findings. */
  reads?: ReadsSeen;
  /** A secret last read (or, never read, created) before this time is "unread". */
  unreadSince?: Date;
  /** The refusals counted since this time (for the text). */
  refusedSince?: Date;
  expects?: ExpectRule[];
}

const SHOWN = 5;

/** The report's windows as durations (`report`'s options): their defaults, which `doctor` uses too. */
export const REPORT_DEFAULTS = { expiring: "14d", unread: "30d", since: "1d" } as const;

/** The report's windows at `now` for `durations`. Throws UsageError (2) naming the option of a bad duration. */
export function reportWindow(
  now: Date,
  durations: { expiring: string; unread: string; since: string } = REPORT_DEFAULTS,
): Pick<ReportInput, "now" | "expiringBefore"> & { unreadSince: Date; refusedSince: Date } {
  const ago = (flag: string, text: string) => {
    try {
      return parseSince(text, now);
    } catch {
      throw new UsageError(`invalid ${flag} ${JSON.stringify(text.slice(0, 40))}`, {
        hint: `give a duration such as 30m, 12h, 14d or 2w, e.g. ${flag} 14d`,
      });
    }
  };
  return {
    now,
    expiringBefore: new Date(2 * now.getTime() - ago("--expiring", durations.expiring).getTime()),
    unreadSince: ago("--unread", durations.unread),
    refusedSince: ago("--since", durations.since),
  };
}

/** Returns the findings, sorted by secret name then kind. Throws the user database's errors (expected readers). */
export function reportFindings(input: ReportInput): ReportFinding[] {
  const out: ReportFinding[] = [];
  const add = (name: string, kind: ReportKind, text: string) => out.push({ name, kind, text });
  for (const s of input.secrets) {
    const now = attention(s, input.now);
    if (now !== undefined) add(s.name, now.status, describeAttention(s.name, now));
    else if (attention(s, input.expiringBefore)?.status === "expired")
      add(s.name, "expiring", `${s.name} expires on ${s.expires!.slice(0, 10)}`);
    if (input.reads !== undefined && input.unreadSince !== undefined) {
      const last = lastOf([...(input.reads.lastReads.get(s.name)?.values() ?? []), s.lastRead]);
      const since = input.unreadSince.getTime();
      if (last !== undefined && Date.parse(last.time) < since)
        add(s.name, "unread", `${s.name} has not been read by any job since ${last.time} (${who(last)})`);
      else if (last === undefined && Date.parse(s.created) < since)
        add(s.name, "unread", `${s.name} has not been read by any job since it was added on ${s.created.slice(0, 10)}`);
    }
  }
  if (input.reads !== undefined) {
    out.push(...refusedFindings(input.reads, input.refusedSince));
    out.push(...missedFindings(input.secrets, input.reads, input.expects ?? [], input.now));
  }
  return out.sort((a, b) => (a.name === b.name ? a.kind.localeCompare(b.kind) : a.name < b.name ? -1 : 1));
}

/** One finding per name refused: how many times, and who asked from which program. */
function refusedFindings(reads: ReadsSeen, since: Date | undefined): ReportFinding[] {
  const byName = new Map<string, string[]>();
  for (const r of reads.refused) {
    for (const name of r.names.length > 0 ? r.names : ["(no name)"]) {
      const list = byName.get(name) ?? [];
      list.push(`${describeUser(r.uid, r.user)} running ${shortCommand(r)}`);
      byName.set(name, list);
    }
  }
  const when = since === undefined ? "" : ` since ${since.toISOString()}`;
  return [...byName].map(([name, askers]) => {
    const distinct = [...new Set(askers)];
    const more = distinct.length > SHOWN ? `, and ${distinct.length - SHOWN} more` : "";
    const n = askers.length;
    return {
      name,
      kind: "refused" as const,
      text: `${name}: ${n} refused read${n === 1 ? "" : "s"}${when}: ${distinct.slice(0, SHOWN).join("; ")}${more}`,
    };
  });
}

/**
 * One finding per expected reader and secret whose last read is older than its period and a quarter (a job that runs
 * every hour may start a little late), or that the audit log's end does not show reading it at all.
 */
function missedFindings(secrets: SecretInfo[], reads: ReadsSeen, expects: ExpectRule[], now: Date): ReportFinding[] {
  const out: ReportFinding[] = [];
  const callers = new Map<number, ReturnType<typeof lookupUser>>();
  const callerOf = (uid: number) => callers.get(uid) ?? callers.set(uid, lookupUser(uid)).get(uid)!;
  for (const rule of expects) {
    const subject = formatSubject(rule.who);
    for (const s of secrets) {
      if (!rule.patterns.some((p) => matchesPattern(p, s.name))) continue;
      const mine = [...(reads.lastReads.get(s.name)?.values() ?? [])].filter((r) =>
        subjectMatches(rule.who, callerOf(r.uid)),
      );
      const last = lastOf(mine);
      const every = formatDuration(rule.everyMs);
      if (last === undefined)
        out.push({
          name: s.name,
          kind: "missed",
          text: `${s.name}: ${subject} is expected to read it every ${every} (policy line ${rule.line}), and the audit log shows no read by it`,
        });
      else if (now.getTime() - Date.parse(last.time) > rule.everyMs * 1.25)
        out.push({
          name: s.name,
          kind: "missed",
          text: `${s.name}: ${subject} is expected to read it every ${every} (policy line ${rule.line}), but last read it at ${last.time} (${who(last)}): has its job stopped?`,
        });
    }
  }
  return out;
}

function lastOf(
  reads: (ReaderRead | { time: string; uid: number; user?: string } | undefined)[],
): ReaderRead | undefined {
  let best: ReaderRead | undefined;
  for (const r of reads)
    if (r !== undefined && (best === undefined || Date.parse(r.time) > Date.parse(best.time)))
      best = { time: r.time, uid: r.uid, user: r.user };
  return best;
}

const who = (r: ReaderRead) => `last by ${describeUser(r.uid, r.user)}`;
