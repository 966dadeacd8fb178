// The role table as Markdown, for SECURITY.md's "Authorization contract (role table)" section.
// Rules: rendered from test/roles/table.ts alone, deterministically; security-md.test.ts checks SECURITY.md holds
// exactly this between the markers (and rewrites it when SECRETFILE_WRITE_ROLE_TABLE=1).

import {
  EXIT,
  KINDS,
  OPERATIONS,
  outcomes,
  RESERVED,
  reservedNamesEnforced,
  ROLES,
  RULES,
  type Role,
} from "./table.js";

/** The markers around the generated part of SECURITY.md. */
export const BEGIN =
  "<!-- role-table:begin (generated from test/roles/table.ts: edit the table, then SECRETFILE_WRITE_ROLE_TABLE=1 npx vitest run test/roles/security-md.test.ts) -->";
export const END = "<!-- role-table:end -->";

const code = (s: string) => `\`${s}\``;

function rulesOf(role: Role): string {
  if (role.id === "root") return "none needed: root may do everything";
  const subject = role.subject === "uid" ? "uid:N" : role.subject === "group" ? "group:G" : "user:U";
  const lines = RULES.filter((r) => r.role === role.id).map((r) =>
    code(`${r.verb} ${subject} ${r.patterns.join(" ")}`),
  );
  return lines.length === 0 ? "none" : lines.join(", ");
}

function cell(role: Role, op: (typeof OPERATIONS)[number]): string {
  const got = outcomes(role, op).map((o, i) => {
    const pending = op.writesReserved === true && KINDS[i] === "reserved" && !reservedNamesEnforced;
    return `${EXIT[o]}${pending ? "*" : ""}`;
  });
  return got.join(" ");
}

/** Returns the Markdown between BEGIN and END (without them). */
export function renderRoleTable(): string {
  const out: string[] = [];
  out.push("| role | its rules in the table's policy | names tried: in, out |");
  out.push("| --- | --- | --- |");
  for (const role of ROLES) {
    const sets = role.names.read === role.names.write ? [role.names.read] : [role.names.read, role.names.write];
    const tried = sets.map((s) => `${code(s.in)}, ${code(s.out)}`).join("; write: ");
    out.push(
      `| **${role.id}**${role.title === role.id ? "" : `: ${role.title}`} | ${rulesOf(role)} | ${role.names.read === role.names.write ? "" : "read: "}${tried} |`,
    );
  }
  out.push("");
  out.push(
    "Each cell is the exit code the CLI gives, and the agent's wire code: 0 allowed, 1 exists (`exists`), 2 refused as a",
    "reserved name, or a plain `exec` by a caller whose rules write out no name (`usage`), 3 no such secret",
    "(`not-found`), 4 refused (`denied`), 7 held for approval, not applied",
    "(`pending`: an `approve` rule gives the name; `pending`, `approve ID` and `reject ID` start from one pending change to",
    `${code("APPR_KEY")}, asked by another member of the approver's group). An operation on a name has five: a name`,
    "inside the role's globs that exists, the same that does not (`…_GONE`), a name outside them that exists, one that does",
    `not, and the reserved name ${code(RESERVED)}, which an old store holds and every rule names.`,
    "A plain `exec` (`values (all)`) is given only the names the caller's read rules write out literally",
    `(${ROLES.filter((r) => r.gets.length > 0)
      .map((r) => `${r.id}: ${r.gets.map(code).join(", ")}`)
      .join("; ")}), never a glob's, and root none: root names what its job needs.`,
  );
  if (!reservedNamesEnforced)
    out.push(
      "A `*` marks a cell owed once add, import and rollback refuse reserved names; the tests skip it until then.",
    );
  out.push("");
  out.push(`| operation | command | ${ROLES.map((r) => r.id).join(" | ")} |`);
  out.push(`| --- | --- | ${ROLES.map(() => "---").join(" | ")} |`);
  for (const op of OPERATIONS)
    out.push(`| ${code(op.id)} | ${code(op.cli)} | ${ROLES.map((r) => cell(r, op)).join(" | ")} |`);
  return out.join("\n");
}
