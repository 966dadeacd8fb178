// `secretfile pending [--json]`: the changes waiting for approval that you asked for or may approve (never a value).
// Rules: every cell is escaped (table.ts); the fingerprint is the agent's, to compare with the requester out of band.

import type { Command } from "commander";
import type { PendingInfo } from "../../protocol/pending.js";
import { jsonText } from "../escape.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";
import { formatTable } from "../table.js";

/** Registers `pending`. */
export function register(program: Command): void {
  withWhere(program.command("pending"))
    .description("list the changes waiting for approval that you asked for or may approve (never values)")
    .option("--json", "print a JSON array")
    .action(async (opts: WhereOptions & { json?: boolean }) => {
      const changes = await (await backendOf(opts)).pending();
      if (opts.json) process.stdout.write(`${jsonText(changes, 2)}\n`);
      else if (changes.length === 0) note("no pending changes");
      else process.stdout.write(table(changes));
    });
}

function table(changes: PendingInfo[]): string {
  const rows = [["ID", "CHANGE", "NAMES", "REQUESTER", "REQUESTED", "EXPIRES", "FINGERPRINT", "APPROVED BY", "NEEDS"]];
  for (const c of changes) {
    rows.push([
      c.id,
      c.change,
      c.names.join(","),
      person(c.requester),
      c.requested.slice(0, 16).replace("T", " "),
      c.expires.slice(0, 16).replace("T", " "),
      c.fingerprint,
      c.approvals.map(person).join(",") || "-",
      c.needs.map((n) => `${n.missing} more of ${n.who.join(" ")}`).join("; ") || "one more approval applies it",
    ]);
  }
  return formatTable(rows);
}

function person(p: { uid: number; user?: string }): string {
  return p.user ?? `uid:${p.uid}`;
}
