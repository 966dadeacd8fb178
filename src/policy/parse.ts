// The policy file's syntax: `verb who pattern...` (and `approve N [expires=DUR] WHO... NAMES...`) one rule a line,
// `#` comments, parsed to rules. Rules: all-or-nothing (every bad line is reported, none is skipped); no printing;
// quoted input is escaped.

import { FailureError } from "../errors.js";

/** What a rule allows: `read` (get, exec, ls) or `write` (add, rm); neither implies the other. */
export type Verb = "read" | "write";

/**
 * Whom a rule names: a user or group by name, a uid or gid by number, or a systemd unit by name (a glob) asking
 * through `LoadCredential=` (src/agent/credentials.ts).
 */
export type Subject = { kind: "user" | "group" | "unit"; name: string } | { kind: "uid" | "gid"; id: number };

/** One line of the policy: `verb` granted to `who` for names matching any of `patterns`. */
export interface Rule {
  verb: Verb;
  who: Subject;
  patterns: string[];
  /** 1-based line number in the policy file. */
  line: number;
}

/**
 * An `approve N [expires=DUR] WHO... NAMES...` line: a change to a name matching `patterns` waits until `count`
 * distinct people matching any of `who` (the requester counted first) have agreed, for at most `expiresMs`.
 */
export interface ApprovalRule {
  count: number;
  who: Subject[];
  patterns: string[];
  /** How long a pending change under this rule waits before it expires, in ms (24 h unless `expires=` is given). */
  expiresMs: number;
  line: number;
}

/**
 * An `expect WHO NAMES... every=DUR` line: `who` is expected to read each name matching `patterns` at least once every
 * `everyMs` (`secretfile report` names a job that stopped). It grants nothing: the agent's decisions never use it.
 */
export interface ExpectRule {
  who: Subject;
  patterns: string[];
  everyMs: number;
  line: number;
}

/** A parsed policy file: its rules in file order, its approval and expected-reader rules (absent when it has none). */
export interface Policy {
  file: string;
  rules: Rule[];
  approvals?: ApprovalRule[];
  expects?: ExpectRule[];
}

/** One bad line: its 1-based number and what is wrong, without the file prefix. */
export interface PolicyProblem {
  line: number;
  message: string;
}

/** Exit 1, like `visudo -c`: the policy has one or more bad lines, all listed in `problems`. */
export class PolicySyntaxError extends FailureError {
  readonly file: string;
  /** The first bad line (1-based). */
  readonly line: number;
  readonly problems: PolicyProblem[];

  constructor(file: string, problems: PolicyProblem[]) {
    const first = problems[0] ?? { line: 0, message: "invalid policy" };
    super(problems.map((p) => `${file}:${p.line}: ${p.message}`).join("\n"), {
      hint:
        "a rule is `read|write user:NAME|group:NAME|uid:N|gid:N PATTERN...`; " +
        `fix the line${problems.length > 1 ? "s" : ""} above and check with \`secretfile policy check ${file}\``,
    });
    this.name = "PolicySyntaxError";
    this.file = file;
    this.line = first.line;
    this.problems = problems;
  }
}

const NAME_MAX = 64;
/** The most people an approval rule may ask for. */
export const APPROVE_MAX = 20;
/** How long a pending change waits when its rule gives no `expires=`: 24 h. */
export const DEFAULT_APPROVAL_MS = 24 * 3600_000;
const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };
const DURATION_MAX_MS = 30 * 86_400_000;
const PATTERN_MAX = 128;
const ID_MAX = 4294967294; // 4294967295 is (uid_t)-1, never a real id
const PRINCIPAL = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
// A systemd unit name (letters, digits, : _ . \ @ -, with a type suffix), globs * and ? allowed.
const UNIT = /^[A-Za-z0-9:_.\\@*?-]+\.(service|socket|timer|mount|path|target|scope|\*)$/;
const PATTERN = /^[A-Za-z_*?][A-Za-z0-9_*?]*$/;
// C0 controls except tab, DEL, C1 controls, and the bidi controls that can hide text ("Trojan Source").
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's purpose
const FORBIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/**
 * Parses the text of a policy file.
 * Returns the rules in file order; throws PolicySyntaxError listing every bad line.
 */
export function parsePolicy(text: string, file: string): Policy {
  return parseLines(text.split("\n"), file);
}

/**
 * Parses a policy file's raw bytes; a line that is not valid UTF-8 is a bad line like any other.
 * Returns the rules in file order; throws PolicySyntaxError listing every bad line.
 */
export function parsePolicyBytes(bytes: Uint8Array, file: string): Policy {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const lines: (string | null)[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    try {
      lines.push(decoder.decode(bytes.subarray(start, i)));
    } catch {
      lines.push(null);
    }
    start = i + 1;
  }
  return parseLines(lines, file);
}

/** Returns a subject as the policy file spells it, e.g. `user:netops` or `uid:1005`. */
export function formatSubject(who: Subject): string {
  return "id" in who ? `${who.kind}:${who.id}` : `${who.kind}:${who.name}`;
}

function parseLines(lines: (string | null)[], file: string): Policy {
  const rules: Rule[] = [];
  const approvals: ApprovalRule[] = [];
  const expects: ExpectRule[] = [];
  const problems: PolicyProblem[] = [];
  lines.forEach((raw, index) => {
    const line = index + 1;
    const bad = (message: string) => problems.push({ line, message });
    if (raw === null) return bad("not valid UTF-8");
    let text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (index === 0 && text.startsWith("\ufeff")) text = text.slice(1);
    const forbidden = FORBIDDEN.exec(text);
    if (forbidden) return bad(`control character ${codePoint(forbidden[0])} at column ${forbidden.index + 1}`);
    const hash = text.indexOf("#");
    const words = (hash < 0 ? text : text.slice(0, hash)).split(/[ \t]+/).filter((w) => w !== "");
    const [verbWord, whoWord, ...patterns] = words;
    if (verbWord === undefined) return;
    if (verbWord === "approve") {
      const rule = parseApproval(words.slice(1), line, bad);
      if (rule !== undefined) approvals.push(rule);
      return;
    }
    if (verbWord === "expect") {
      const rule = parseExpect(words.slice(1), line, bad);
      if (rule !== undefined) expects.push(rule);
      return;
    }
    const before = problems.length;
    const verb = parseVerb(verbWord, bad);
    let who: Subject | undefined;
    if (whoWord === undefined) {
      bad(`missing who and secret names after ${quote(verbWord)}`);
    } else {
      who = parseWho(whoWord, bad);
      if (patterns.length === 0) bad(`missing secret names after ${quote(whoWord)}`);
    }
    for (const pattern of patterns) checkPattern(pattern, bad);
    if (verb === "write" && who?.kind === "unit")
      bad(`a unit may only read (through LoadCredential=): ${quote(whoWord ?? "")}`);
    if (problems.length === before && verb !== undefined && who !== undefined) {
      rules.push({ verb, who, patterns, line });
    }
  });
  if (problems.length > 0) throw new PolicySyntaxError(file, problems);
  return {
    file,
    rules,
    ...(approvals.length === 0 ? {} : { approvals }),
    ...(expects.length === 0 ? {} : { expects }),
  };
}

/** Parses the words after `expect`: WHO, then patterns, with one `every=DUR` among them. Undefined after a report. */
function parseExpect(words: string[], line: number, report: Report): ExpectRule | undefined {
  let problems = 0;
  const bad: Report = (message) => {
    problems++;
    report(message);
  };
  const [whoWord, ...rest] = words;
  const every = rest.filter((w) => w.startsWith("every="));
  const patterns = rest.filter((w) => !w.startsWith("every="));
  const who = whoWord === undefined ? undefined : parseWho(whoWord, bad);
  if (whoWord === undefined) bad('missing who, secret names and every=DURATION after "expect"');
  else if (patterns.length === 0) bad(`missing secret names after ${quote(whoWord)}`);
  for (const pattern of patterns) checkPattern(pattern, bad);
  if (whoWord !== undefined && every.length !== 1)
    bad(`expect needs one every=DURATION (how often the job reads, e.g. every=1h), not ${every.length}`);
  const everyMs = every.length === 1 ? parseDuration(every[0]!.slice("every=".length), bad, "every") : undefined;
  if (problems > 0 || who === undefined || everyMs === undefined) return undefined;
  return { who, patterns, everyMs, line };
}

/**
 * Parses the words after `approve`: N, then `expires=DUR` if given, then subjects (told by their `kind:` prefix), then
 * patterns. Returns undefined after reporting what is wrong.
 */
function parseApproval(words: string[], line: number, report: Report): ApprovalRule | undefined {
  const [countWord, ...rest] = words;
  let problems = 0;
  const bad: Report = (message) => {
    problems++;
    report(message);
  };
  let n: number | undefined;
  if (countWord === undefined) bad('missing the number of people after "approve"');
  else if (!/^[1-9][0-9]{0,5}$/.test(countWord) || Number(countWord) < 2 || Number(countWord) > APPROVE_MAX) {
    bad(
      `bad count ${quote(countWord)} after "approve" (expected a whole number from 2 to ${APPROVE_MAX}: the requester and at least one other)`,
    );
  } else n = Number(countWord);
  let expiresMs = DEFAULT_APPROVAL_MS;
  if (rest[0]?.startsWith("expires="))
    expiresMs = parseDuration(rest.shift()!.slice("expires=".length), bad) ?? expiresMs;
  const who: Subject[] = [];
  const patterns: string[] = [];
  for (const word of rest) {
    const subject = /^[a-z]+:/.test(word);
    if (subject && patterns.length > 0)
      bad(`who ${quote(word)} after the secret names (write every who before the names)`);
    else if (subject) {
      const parsed = parseWho(word, bad);
      if (parsed !== undefined) who.push(parsed);
    } else {
      checkPattern(word, bad);
      patterns.push(word);
    }
  }
  if (countWord !== undefined && who.length === 0 && problems === 0)
    bad("missing who after the count (e.g. group:secops)");
  if (countWord !== undefined && patterns.length === 0 && problems === 0) bad("missing secret names after who");
  // A rule naming only people one by one that names fewer than it asks for could never be met.
  if (n !== undefined && who.length > 0 && who.every((w) => w.kind === "user" || w.kind === "uid")) {
    const people = new Set(who.map(formatSubject)).size;
    if (people < n)
      bad(`approve ${n} can never be met: its who names only ${people} ${people === 1 ? "person" : "people"}`);
  }
  if (problems > 0 || n === undefined) return undefined;
  return { count: n, who, patterns, expiresMs, line };
}

function parseDuration(text: string, bad: Report, key = "expires"): number | undefined {
  const m = /^([1-9][0-9]{0,6})([smhd])$/.exec(text);
  const ms = m === null ? NaN : Number(m[1]) * DURATION_UNITS[m[2]!]!;
  if (ms <= DURATION_MAX_MS) return ms;
  bad(`bad ${key}=${quote(text)} (expected a duration such as 30m, 4h or 2d, at most 30d)`);
  return undefined;
}

type Report = (message: string) => void;

function parseVerb(word: string, bad: Report): Verb | undefined {
  if (word === "read" || word === "write") return word;
  bad(`unknown verb ${quote(word)} (expected read, write, approve or expect)`);
  return undefined;
}

function parseWho(word: string, bad: Report): Subject | undefined {
  const colon = word.indexOf(":");
  const kind = colon < 0 ? "" : word.slice(0, colon);
  const value = word.slice(colon + 1);
  if (kind === "user" || kind === "group") {
    if (value.length <= NAME_MAX && PRINCIPAL.test(value)) return { kind, name: value };
    bad(
      `bad ${kind} name ${quote(value)} in ${quote(word)} (expected a Unix ${kind} name, at most ${NAME_MAX} characters)`,
    );
    return undefined;
  }
  if (kind === "unit") {
    if (value.length <= NAME_MAX * 4 && UNIT.test(value)) return { kind, name: value };
    bad(
      `bad unit name ${quote(value)} in ${quote(word)} (expected a systemd unit name such as report.service; globs * and ? allowed)`,
    );
    return undefined;
  }
  if (kind === "uid" || kind === "gid") {
    if (/^(0|[1-9][0-9]{0,9})$/.test(value) && Number(value) <= ID_MAX) return { kind, id: Number(value) };
    bad(
      `bad ${kind} ${quote(value)} in ${quote(word)} (expected a decimal number from 0 to ${ID_MAX}, no leading zeros)`,
    );
    return undefined;
  }
  bad(`bad who ${quote(word)} (expected user:NAME, group:NAME, uid:N, gid:N or unit:NAME)`);
  return undefined;
}

function checkPattern(pattern: string, bad: Report): void {
  if (pattern.length > PATTERN_MAX) {
    bad(`pattern ${quote(pattern)} is longer than ${PATTERN_MAX} characters`);
  } else if (!PATTERN.test(pattern)) {
    bad(
      `bad pattern ${quote(pattern)} (expected a secret name of letters, digits and _, not starting with a digit; globs * and ? allowed)`,
    );
  }
}

/** Quotes user text for a message: printable ASCII as is, anything else escaped, long text cut. */
function quote(text: string): string {
  const cut = [...text].slice(0, 40).join("");
  const escaped = cut.replace(/[^\x20-\x7e]|["\\]/gu, (c) => (c === '"' || c === "\\" ? `\\${c}` : escapeChar(c)));
  return `"${escaped}${cut.length < text.length ? "…" : ""}"`;
}

function escapeChar(c: string): string {
  const n = c.codePointAt(0) ?? 0;
  return n > 0xffff ? `\\u{${n.toString(16)}}` : `\\u${n.toString(16).padStart(4, "0")}`;
}

function codePoint(c: string): string {
  return `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Returns a duration in ms as the policy spells it, in the largest unit that divides it: `4h`, `90m`, `1s`. */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m"] as const)
    if (ms % DURATION_UNITS[unit]! === 0) return `${ms / DURATION_UNITS[unit]!}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}
