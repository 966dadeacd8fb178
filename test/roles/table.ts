// The role table, as data: every role × every agent operation × every kind of name → the outcome the agent owes.
// Rules: data only; the in-process walk (handle.test.ts), the end-to-end layer (socket.test.ts) and SECURITY.md's
// "Authorization contract" (render.ts, checked by security-md.test.ts) all read it, so changing a cell changes all three.

import { ExitCode } from "../../src/errors.js";
import type { Request } from "../../src/protocol/wire.js";

/** What the agent answers: ok, or the error code on the wire. */
export type Outcome = "ok" | "exists" | "usage" | "not-found" | "denied" | "pending";

/** The CLI's exit code for each outcome (design: exit codes). */
export const EXIT: Record<Outcome, number> = {
  ok: ExitCode.ok,
  exists: ExitCode.failure,
  usage: ExitCode.usage,
  "not-found": ExitCode.notFound,
  denied: ExitCode.denied,
  pending: ExitCode.pending,
};
const BY_DIGIT: Record<string, Outcome> = {
  "0": "ok",
  "1": "exists",
  "2": "usage",
  "3": "not-found",
  "4": "denied",
  "7": "pending",
};

/** The kinds of name each named operation is tried with, in the order the cells list them. */
export const KINDS = ["in", "in-missing", "out", "out-missing", "reserved"] as const;
export type Kind = (typeof KINDS)[number];

/** The names a role is tried with, for one verb. */
export type NameSet = Record<Kind, string>;

export type RoleId =
  "root" | "service" | "writer" | "reader" | "mixed" | "stranger" | "nopasswd" | "member" | "approver";

/** One role: who it is, how the policy names it, the names it is tried with, and what it sees in `ls` and `exec`. */
export interface Role {
  id: RoleId;
  title: string;
  /** The policy's subject kind for its rules (`user:NAME`, `group:NAME`, `uid:N`), when rules name it. */
  subject?: "user" | "group" | "uid";
  /** For a `group:` subject: which of the table's groups (GROUPS) names it. */
  group?: GroupId;
  /** Names for operations that need `read` (get, values, history) and those that need `write`. */
  names: { read: NameSet; write: NameSet };
  /** The names `ls` shows it, sorted; empty when it is refused. */
  sees: string[];
  /**
   * The names a plain `exec` (`values` without names) is given, sorted: those its read rules write out literally, never
   * a glob's; empty when it is refused. The CLI then holds back the reserved one.
   */
  gets: string[];
}

/** One operation of the protocol (src/protocol/wire.ts), as the CLI commands that reach the agent send it. */
export interface Operation {
  id: string;
  /** The CLI commands that send it. */
  cli: string;
  /** Which name set a named operation takes (history: read, though write also grants it). */
  verb?: "read" | "write";
  /** The request, for `name` (named operations) and a fresh `value` (add, import). */
  request(name: string, value: string): Request;
  /** The audit line's `names` for a request about `name`, when allowed and when refused, by `role` (ping writes no line). */
  audited?: (name: string, allowed: boolean, role: RoleId) => string[];
  /** Authorized as a write, but only asks (`exists`): the store is left as it was. */
  asksOnly?: boolean;
}

const one = (name: string) => [name];

/** The groups the table's policy names: `team` (a supplementary group of `member`), `approvers` (of `approver`). */
export type GroupId = "team" | "approvers";

/** The names an `approve` rule gives (to the `approvers` group), and the pending change each cell starts with. */
export const APPROVED = "APPR_KEY";
/**
 * The pending change every cell starts from: `add --replace APPR_KEY`, asked by another member of `approvers` (not a
 * role of the table), so one more approval (root's or the approver's) applies it.
 */
export const SEEDED = { id: "0000000a11ce", name: APPROVED } as const;
const approvedNames = (allowed: boolean, role: RoleId) =>
  allowed && (role === "root" || role === "approver") ? [APPROVED] : [];

/** Every operation, in the table's order. */
export const OPERATIONS: Operation[] = [
  { id: "ping", cli: "doctor", request: () => ({ v: 1, op: "ping" }) },
  { id: "get", cli: "get NAME", verb: "read", request: (name) => ({ v: 1, op: "get", name }), audited: one },
  {
    id: "values",
    cli: "exec --only NAME (or --file, --map, --env-file, --render), render TEMPLATE",
    verb: "read",
    request: (name) => ({ v: 1, op: "values", names: [name] }),
    audited: one,
  },
  { id: "values (all)", cli: "exec", request: () => ({ v: 1, op: "values" }), audited: () => ["*"] },
  { id: "list", cli: "ls", request: () => ({ v: 1, op: "list" }), audited: (_, allowed) => (allowed ? [] : ["*"]) },
  {
    id: "add",
    cli: "add NAME",
    verb: "write",
    request: (name, value) => ({ v: 1, op: "add", name, value }),
    audited: one,
  },
  {
    id: "add --replace",
    cli: "add NAME --replace",
    verb: "write",
    request: (name, value) => ({ v: 1, op: "add", name, value, replace: true }),
    audited: one,
  },
  {
    id: "update",
    cli: "update NAME --expires DATE",
    verb: "write",
    request: (name) => ({ v: 1, op: "update", name, expires: "2099-12-31", rotateEvery: 30 }),
    audited: one,
  },
  {
    id: "exists",
    cli: "add NAME (asked before the prompt on a terminal)",
    verb: "write",
    request: (name) => ({ v: 1, op: "exists", name }),
    audited: one,
    asksOnly: true,
  },
  { id: "rm", cli: "rm NAME", verb: "write", request: (name) => ({ v: 1, op: "rm", name }), audited: one },
  {
    id: "history",
    cli: "history NAME",
    verb: "read",
    request: (name) => ({ v: 1, op: "history", name }),
    audited: one,
  },
  {
    id: "rollback",
    cli: "rollback NAME",
    verb: "write",
    request: (name) => ({ v: 1, op: "rollback", name }),
    audited: one,
  },
  {
    id: "import",
    cli: "import FILE",
    verb: "write",
    request: (name, value) => ({ v: 1, op: "import", secrets: [{ name, value }] }),
    audited: one,
  },
  { id: "settings", cli: "history", request: () => ({ v: 1, op: "settings" }), audited: () => [] },
  {
    id: "settings --keep",
    cli: "history --keep N",
    request: () => ({ v: 1, op: "settings", historyKeep: 3 }),
    audited: () => [],
  },
  {
    id: "pending",
    cli: "pending",
    request: () => ({ v: 1, op: "pending" }),
    audited: (_, allowed, role) => approvedNames(allowed, role),
  },
  {
    id: "approve",
    cli: "approve ID",
    request: () => ({ v: 1, op: "approve", id: SEEDED.id }),
    audited: (_, allowed, role) => approvedNames(allowed, role),
  },
  {
    id: "reject",
    cli: "reject ID",
    request: () => ({ v: 1, op: "reject", id: SEEDED.id }),
    // Refused once looked up (a writer may reject its own changes, so the id is looked up for it): named.
    audited: (_, allowed, role) =>
      approvedNames(allowed, role).length > 0 || role === "writer" || role === "mixed" ? [APPROVED] : [],
  },
  {
    id: "accept-store",
    cli: "accept-store",
    request: () => ({ v: 1, op: "accept-store" }),
    audited: () => [],
  },
];

/** The reserved name every role is tried with: an old store holds it, and every rule below names it. */
export const RESERVED = "LD_PRELOAD";

/** The secrets in the store each cell starts from; each has a current and an earlier value. */
export const STORE_NAMES = [
  APPROVED,
  "APP_KEY",
  "HIDDEN_KEY",
  "JOB_KEY",
  RESERVED,
  "MIX_R_KEY",
  "MIX_W_KEY",
  "NOPW_KEY",
  "ROOT_KEY",
  "TEAM_KEY",
];

/** The policy, by role: each rule line is `verb <subject of role> patterns`. */
export const RULES: { verb: "read" | "write" | "approve 2"; role: RoleId; patterns: string[] }[] = [
  { verb: "read", role: "reader", patterns: ["JOB_KEY", "JOB_GONE", RESERVED] },
  { verb: "write", role: "writer", patterns: ["APP_*", RESERVED] },
  { verb: "read", role: "mixed", patterns: ["MIX_R_*", RESERVED] },
  { verb: "write", role: "mixed", patterns: ["MIX_W_*", RESERVED] },
  { verb: "read", role: "member", patterns: ["TEAM_*", RESERVED] },
  { verb: "read", role: "nopasswd", patterns: ["NOPW_*", RESERVED] },
  { verb: "write", role: "approver", patterns: ["APPR_*", RESERVED] },
  { verb: "approve 2", role: "approver", patterns: ["APPR_*"] },
];

const names = (own: string, out = "HIDDEN"): NameSet => ({
  in: `${own}_KEY`,
  "in-missing": `${own}_GONE`,
  out: `${out}_KEY`,
  "out-missing": `${out}_GONE`,
  reserved: RESERVED,
});
const same = (set: NameSet) => ({ read: set, write: set });

/** The eight roles. "in" names lie inside the globs of the verb the operation needs; where the role has none of that
 * verb, inside its globs of the other verb; for a role no rule names, inside another role's globs. */
export const ROLES: Role[] = [
  { id: "root", title: "root", names: same(names("ROOT")), sees: STORE_NAMES, gets: [] },
  { id: "service", title: "the service account", names: same(names("JOB")), sees: [], gets: [] },
  { id: "writer", title: "a `write`-only admin", subject: "user", names: same(names("APP")), sees: [], gets: [] },
  {
    id: "reader",
    title: "a `read`-only job user",
    subject: "user",
    names: same(names("JOB")),
    sees: ["JOB_KEY", RESERVED],
    gets: ["JOB_KEY", RESERVED],
  },
  {
    id: "mixed",
    title: "`read` on some names, `write` on others",
    subject: "user",
    names: { read: names("MIX_R", "MIX_W"), write: names("MIX_W", "MIX_R") },
    sees: [RESERVED, "MIX_R_KEY"],
    gets: [RESERVED],
  },
  { id: "stranger", title: "a user no rule names", names: same(names("JOB")), sees: [], gets: [] },
  {
    id: "nopasswd",
    title: "a uid with no passwd entry",
    subject: "uid",
    names: same(names("NOPW")),
    sees: [RESERVED, "NOPW_KEY"],
    gets: [RESERVED],
  },
  {
    id: "member",
    title: "a `group:` member through a supplementary group only",
    subject: "group",
    group: "team",
    names: same(names("TEAM")),
    sees: [RESERVED, "TEAM_KEY"],
    gets: [RESERVED],
  },
  {
    id: "approver",
    title: "an `approve` group member (with `write` of the same names)",
    subject: "group",
    group: "approvers",
    names: same(names("APPR")),
    sees: [],
    gets: [],
  },
];

/** `rollback`'s cells (ROLES' order); `update` has the same but for approval holds. */
const ROLLBACK = row(
  "0 3 0 3 2",
  "4 4 4 4 2",
  "0 3 4 4 2",
  "4 4 4 4 2",
  "0 3 4 4 2",
  "4 4 4 4 2",
  "4 4 4 4 2",
  "4 4 4 4 2",
  "7 3 4 4 2",
);

/**
 * The cells, by operation then role: one digit for an operation without a name, else five (in, in-missing, out,
 * out-missing, reserved). 0 ok, 1 exists, 2 usage, 3 not found, 4 denied: the exit code the CLI gives for it.
 */
const CELLS: Record<string, Record<RoleId, string>> = {
  // columns: root, service, writer, reader, mixed, stranger, nopasswd, member, approver (ROLES' order)
  ping: row("0", "0", "0", "0", "0", "0", "0", "0", "0"),
  get: row(
    "0 3 0 3 0",
    "4 4 4 4 4",
    "4 4 4 4 4",
    "0 3 4 4 0",
    "0 3 4 4 0",
    "4 4 4 4 4",
    "0 3 4 4 0",
    "0 3 4 4 0",
    "4 4 4 4 4",
  ),
  values: row(
    "0 3 0 3 0",
    "4 4 4 4 4",
    "4 4 4 4 4",
    "0 3 4 4 0",
    "0 3 4 4 0",
    "4 4 4 4 4",
    "0 3 4 4 0",
    "0 3 4 4 0",
    "4 4 4 4 4",
  ),
  // A plain `exec`: root's override gives nothing unasked (2: name them); the others get what their rules write out.
  "values (all)": row("2", "4", "4", "0", "0", "4", "0", "0", "4"),
  list: row("0", "4", "4", "0", "0", "4", "0", "0", "4"),
  add: row(
    "1 0 1 0 2",
    "4 4 4 4 2",
    "1 0 4 4 2",
    "4 4 4 4 2",
    "1 0 4 4 2",
    "4 4 4 4 2",
    "4 4 4 4 2",
    "4 4 4 4 2",
    "1 7 4 4 2",
  ),
  "add --replace": row(
    "0 0 0 0 2",
    "4 4 4 4 2",
    "0 0 4 4 2",
    "4 4 4 4 2",
    "0 0 4 4 2",
    "4 4 4 4 2",
    "4 4 4 4 2",
    "4 4 4 4 2",
    "7 7 4 4 2",
  ),
  // A secret's metadata, never its value: refused and missing as a rollback is, and never held for approval.
  update: { ...ROLLBACK, approver: "0 3 4 4 2" },
  exists: row(
    "0 0 0 0 0",
    "4 4 4 4 4",
    "0 0 4 4 0",
    "4 4 4 4 4",
    "0 0 4 4 0",
    "4 4 4 4 4",
    "4 4 4 4 4",
    "4 4 4 4 4",
    "0 0 4 4 0",
  ),
  rm: row(
    "0 3 0 3 0",
    "4 4 4 4 4",
    "0 3 4 4 0",
    "4 4 4 4 4",
    "0 3 4 4 0",
    "4 4 4 4 4",
    "4 4 4 4 4",
    "4 4 4 4 4",
    "7 3 4 4 0",
  ),
  history: row(
    "0 3 0 3 0",
    "4 4 4 4 4",
    "0 3 4 4 0",
    "0 3 4 4 0",
    "0 3 0 3 0",
    "4 4 4 4 4",
    "0 3 4 4 0",
    "0 3 4 4 0",
    "0 3 4 4 0",
  ),
  rollback: ROLLBACK,
  import: row(
    "1 0 1 0 2",
    "4 4 4 4 2",
    "1 0 4 4 2",
    "4 4 4 4 2",
    "1 0 4 4 2",
    "4 4 4 4 2",
    "4 4 4 4 2",
    "4 4 4 4 2",
    "1 7 4 4 2",
  ),
  settings: row("0", "0", "0", "0", "0", "0", "0", "0", "0"),
  "settings --keep": row("0", "4", "4", "4", "4", "4", "4", "4", "4"),
  // The pending change SEEDED: root and the approver see it and may approve (applying it: root counts as one person)
  // or reject it; a writer sees an empty list (no change of its own) and is refused it by id; no one else has a part.
  pending: row("0", "4", "0", "4", "0", "4", "4", "4", "0"),
  approve: row("0", "4", "4", "4", "4", "4", "4", "4", "0"),
  reject: row("0", "4", "4", "4", "4", "4", "4", "4", "0"),
  // Taking an older or forked store on purpose: root's alone, as the policy is.
  "accept-store": row("0", "4", "4", "4", "4", "4", "4", "4", "4"),
};

function row(...cells: string[]): Record<RoleId, string> {
  return Object.fromEntries(ROLES.map((r, i) => [r.id, cells[i]!])) as Record<RoleId, string>;
}

/** One cell: a role, an operation, and (for a named operation) a kind of name, with the outcome owed. */
export interface Cell {
  role: Role;
  op: Operation;
  kind?: Kind;
  /** The name asked for (empty for an operation without one). */
  name: string;
  expect: Outcome;
  /** e.g. `writer / add / in-missing (APP_GONE)`. */
  label: string;
}

/** Returns the outcomes of one role and operation: one, or one per kind. Throws on a malformed cell (a table bug). */
export function outcomes(role: Role, op: Operation): Outcome[] {
  const text = CELLS[op.id]?.[role.id];
  const digits = (text ?? "").replaceAll(" ", "").split("");
  const want = op.verb === undefined ? 1 : KINDS.length;
  if (digits.length !== want || !digits.every((d) => d in BY_DIGIT))
    throw new Error(`role table: cell ${role.id} / ${op.id} is ${JSON.stringify(text)}`);
  return digits.map((d) => BY_DIGIT[d]!);
}

/** Returns every cell of the table, operation by operation, role by role, kind by kind. */
export function cells(): Cell[] {
  const out: Cell[] = [];
  for (const op of OPERATIONS) {
    for (const role of ROLES) {
      const got = outcomes(role, op);
      if (op.verb === undefined) {
        out.push({ role, op, name: "", expect: got[0]!, label: `${role.id} / ${op.id}` });
        continue;
      }
      KINDS.forEach((kind, i) => {
        const name = role.names[op.verb!][kind];
        out.push({
          role,
          op,
          kind,
          name,
          expect: got[i]!,
          label: `${role.id} / ${op.id} / ${kind} (${name})`,
        });
      });
    }
  }
  return out;
}

/** Returns the policy file's text, given how it spells a role its rules name (e.g. `user:job`, `uid:61234`). */
export function policyText(subjectOf: (role: Role) => string): string {
  const byId = new Map(ROLES.map((r) => [r.id, r]));
  return (
    RULES.map((r) => `${r.verb.padEnd(5)} ${subjectOf(byId.get(r.role)!)} ${r.patterns.join(" ")}`).join("\n") + "\n"
  );
}

/** The pairs of kinds that differ only in whether the name exists: a refusal must not tell them apart. */
export const LEAK_PAIRS: [Kind, Kind][] = [
  ["in", "in-missing"],
  ["out", "out-missing"],
];
