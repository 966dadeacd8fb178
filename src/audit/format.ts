// How audit decisions and last reads look to a person: one short line each, times in UTC.
// Rules: long fields are cut with "…"; never a value (the log holds none). Text from the log (user names, command
// lines, reasons) is the caller's own: the CLI escapes every line it prints (src/cli/escape.ts), never shows it raw.

import type { LastRead } from "../store/document.js";
import type { AuditDecision } from "./record.js";

const NAMES_MAX = 60;
const COMMAND_MAX = 80;

/** Returns `text` cut to `max` characters, the last one then "…"; the caller escapes it before it is printed. */
export function printable(text: string, max = Number.POSITIVE_INFINITY): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Returns a user as `name(uid)`, or `uid N` when the uid has no name. */
export function describeUser(uid: number, user: string | undefined): string {
  return user === undefined ? `uid ${uid}` : `${printable(user, 32)}(${uid})`;
}

/** Returns the LAST READ cell of `secretfile ls`: `2026-11-03 14:02Z netops`, or `-` when none is known. */
export function lastReadCell(read: LastRead | undefined): string {
  if (read === undefined) return "-";
  return `${read.time.slice(0, 16).replace("T", " ")}Z ${read.user === undefined ? `uid ${read.uid}` : printable(read.user, 32)}`;
}

/**
 * Returns the short form of the command that asked: its command line with the program's folder dropped (and
 * `node …/secretfile` shown as `secretfile`), else the program, else `?`; at most 80 characters.
 */
export function shortCommand(record: Pick<AuditDecision, "program" | "cmdline">): string {
  const words = (record.cmdline ?? "").split(" ").filter((w) => w !== "");
  if (words.length === 0) return record.program === undefined ? "?" : printable(record.program, COMMAND_MAX);
  const base = (w: string) => w.slice(w.lastIndexOf("/") + 1);
  if (
    /^node(js)?[0-9]*$/.test(base(words[0]!)) &&
    words[1] !== undefined &&
    /^secretfile(\.m?js)?$/.test(base(words[1]))
  ) {
    words.splice(0, 2, "secretfile");
  } else {
    words[0] = base(words[0]!);
  }
  return printable(words.join(" "), COMMAND_MAX);
}

/** Returns the names a decision is about, as one cell: what was given when something was, else what was asked. */
export function namesCell(record: AuditDecision): string {
  if (record.op === "list") return record.allowed ? `(${record.given.length} listed)` : "(list)";
  const names = record.allowed && record.given.length > 0 ? record.given : record.names;
  if (names.length === 0) return "-";
  // A bounded line (a refusal) keeps the first name and says how many more were asked.
  if (record.omitted !== undefined && record.omitted > 0 && names === record.names)
    return printable(`${names.join(",")},… (+${record.omitted})`, NAMES_MAX * 3);
  let cell = "";
  for (let i = 0; i < names.length; i++) {
    const next = cell === "" ? names[i]! : `${cell},${names[i]}`;
    if (next.length > NAMES_MAX && i > 0) return printable(`${cell},… (+${names.length - i})`);
    cell = next;
  }
  return printable(cell, NAMES_MAX * 3);
}

/**
 * Returns one decision as a line of `secretfile audit`:
 * `2026-11-03 14:02:11Z  netops(1005)  allowed  get  MERAKI_API_KEY  secretfile exec -- python3 report.py`,
 * with the reason appended to a refusal. A change's intent line (written before the store changes) says `intent`.
 */
export function decisionLine(record: AuditDecision): string {
  const time = `${record.time.slice(0, 19).replace("T", " ")}Z`;
  const fields = [
    time,
    describeUser(record.uid, record.user).padEnd(20),
    record.intent === true ? "intent " : record.allowed ? "allowed" : "DENIED ",
    printable(record.op, 8).padEnd(6),
    namesCell(record),
    shortCommand(record),
  ];
  const line = fields.join("  ");
  return record.allowed ? line : `${line}  (${printable(record.reason, 160)})`;
}
