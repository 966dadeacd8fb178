// Access decisions: may this caller read or write this secret name, under this policy.
// Rules: deny by default; root may do everything; write never implies read nor read write; globs never become regexes.

import { isValidName } from "../store/names.js";
import { formatSubject, type ApprovalRule, type Policy, type Rule, type Subject, type Verb } from "./parse.js";

/** Who is asking, as the kernel reported it (uid, gid) and the user database resolved it. */
export interface Caller {
  uid: number;
  gid: number;
  /** The user name of `uid`, or undefined when it has none. */
  user: string | undefined;
  /** Every group of the caller: the primary group and all supplementary groups. */
  groups: { gid: number; name: string | undefined }[];
}

/** The outcome of a check and why, fit for the audit log (never holds a value). */
export interface Decision {
  allowed: boolean;
  reason: string;
}

/**
 * Decides whether `caller` may `verb` the secret `name`.
 * Returns a Decision: root is allowed ("root"), else the first matching rule allows, else denied. Never throws.
 * An invalid secret name or verb is always denied.
 */
export function decide(policy: Policy, caller: Caller, verb: Verb, name: string): Decision {
  // Deny by default even a verb that got past the type (a cast, plain JS): this is the access decision.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
  if (verb !== "read" && verb !== "write") return { allowed: false, reason: "unknown verb" };
  if (!isValidName(name)) return { allowed: false, reason: "not a valid secret name" };
  if (caller.uid === 0) return { allowed: true, reason: "root" };
  for (const rule of policy.rules) {
    if (rule.verb !== verb || !subjectMatches(rule.who, caller)) continue;
    const pattern = rule.patterns.find((p) => matchesPattern(p, name));
    if (pattern !== undefined) return { allowed: true, reason: describeRule(rule, pattern) };
  }
  const user = caller.user === undefined ? "" : ` (${caller.user})`;
  return { allowed: false, reason: `no rule grants ${verb} of ${name} to uid ${caller.uid}${user}` };
}

/**
 * Matches a secret name against a glob: `*` any run (possibly empty), `?` exactly one character,
 * every other character only itself; anchored at both ends. Returns false when `name` is not a
 * valid secret name. Never throws.
 */
export function matchesPattern(pattern: string, name: string): boolean {
  return isValidName(name) && globMatches(pattern, name);
}

/** Returns the names in `names` the caller may read, in their order. Never throws. */
export function readableNames(policy: Policy, caller: Caller, names: string[]): string[] {
  return names.filter((name) => decide(policy, caller, "read", name).allowed);
}

/**
 * Returns the patterns of the `read` rules whose subject is the caller, in file order, each once. root's override is
 * not a rule: only a rule naming root (`user:root`, `uid:0`, a group of root's) gives root patterns. Never throws.
 */
export function readPatternsFor(policy: Policy, caller: Caller): string[] {
  const patterns = new Set<string>();
  for (const rule of policy.rules)
    if (rule.verb === "read" && subjectMatches(rule.who, caller)) for (const p of rule.patterns) patterns.add(p);
  return [...patterns];
}

/**
 * Returns the names the `read` rules give the caller literally (a pattern without `*` or `?`), sorted: what a job
 * that asked for no name receives. A glob grants the right to ask by name, never to receive unasked. Never throws.
 */
export function namedFor(policy: Policy, caller: Caller): string[] {
  return readPatternsFor(policy, caller).filter(isValidName).sort();
}

/** Returns true when root is asking or some `verb` rule names the caller (whatever its names). Never throws. */
export function grantsAny(policy: Policy, caller: Caller, verb: Verb): boolean {
  return caller.uid === 0 || policy.rules.some((rule) => rule.verb === verb && subjectMatches(rule.who, caller));
}

/** Returns the approval rules of `policy` that match any of `names`, in file order (none: the change needs no approval). Never throws. */
export function approvalRulesFor(policy: Policy, names: string[]): ApprovalRule[] {
  return (policy.approvals ?? []).filter((rule) =>
    names.some((name) => rule.patterns.some((p) => matchesPattern(p, name))),
  );
}

/** Returns true when `caller` is one of the people an approval rule counts: root, or a match of one of its subjects. Never throws. */
export function countsFor(rule: ApprovalRule, caller: Caller): boolean {
  return caller.uid === 0 || rule.who.some((who) => subjectMatches(who, caller));
}

/**
 * Returns how many more people each rule still needs, given the people who agreed so far (the requester first); a
 * uid counts once. Returns an empty list when every rule is met. Never throws.
 */
export function approvalsMissing(rules: ApprovalRule[], people: Caller[]): { rule: ApprovalRule; missing: number }[] {
  return rules
    .map((rule) => ({
      rule,
      missing: rule.count - new Set(people.filter((p) => countsFor(rule, p)).map((p) => p.uid)).size,
    }))
    .filter((r) => r.missing > 0);
}

/** Returns true when `who` (a rule's subject) names `caller`; a unit never matches a Unix caller here. Never throws. */
export function subjectMatches(who: Subject, caller: Caller): boolean {
  switch (who.kind) {
    case "user":
      return caller.user !== undefined && caller.user === who.name;
    case "group":
      return caller.groups.some((g) => g.name !== undefined && g.name === who.name);
    case "uid":
      return caller.uid === who.id;
    case "gid":
      return caller.gid === who.id || caller.groups.some((g) => g.gid === who.id);
    case "unit":
      // A unit is a subject only through decideUnit: a uid's caller never matches it.
      return false;
  }
}

/**
 * Decides whether the systemd unit `unit` may receive the secret `name` as a credential: only `read unit:GLOB`
 * rules count (root's override does not apply: the caller is systemd acting for the unit). Never throws.
 */
export function decideUnit(policy: Policy, unit: string, name: string): Decision {
  if (!isValidName(name)) return { allowed: false, reason: "the credential ID is not a valid secret name" };
  for (const rule of policy.rules) {
    if (rule.verb !== "read" || rule.who.kind !== "unit" || !globMatches(rule.who.name, unit)) continue;
    const pattern = rule.patterns.find((p) => matchesPattern(p, name));
    if (pattern !== undefined) return { allowed: true, reason: describeRule(rule, pattern) };
  }
  return { allowed: false, reason: `no rule grants read of ${name} to unit ${unit}` };
}

/** Matches `text` against a glob of `*` and `?`, anchored at both ends, every other character only itself. */
function globMatches(pattern: string, text: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < text.length) {
    const c = pattern[p];
    if (c === "*") {
      star = p++;
      resume = n;
    } else if (c !== undefined && (c === "?" || c === text[n])) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

function describeRule(rule: Rule, pattern: string): string {
  return `rule at line ${rule.line} (${rule.verb} ${formatSubject(rule.who)} ${pattern})`;
}
