// `secretfile ls`: names and metadata, never values.

import type { Command } from "commander";
import { lastReadCell } from "../../audit/format.js";
import type { SecretInfo } from "../../store/document.js";
import { status } from "../../store/expiry.js";
import { LS_OPTIONS } from "../forms.js";
import { backendOf, withOptions, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";
import { jsonText } from "../escape.js";
import { formatTable } from "../table.js";

/** Registers `ls`. */
export function register(program: Command): void {
  withOptions(withWhere(program.command("ls")), LS_OPTIONS)
    .description("list names and metadata (never values)")
    .action(lsAction);
}

/** Runs `ls` (for the full CLI and the small entry, src/cli/hot.ts). Throws the backend's errors. */
export async function lsAction(opts: WhereOptions & { json?: boolean }): Promise<void> {
  const secrets = await (await backendOf(opts)).list();
  if (opts.json) {
    process.stdout.write(`${jsonText(withStatus(secrets), 2)}\n`);
  } else if (secrets.length === 0) {
    note("no secrets yet: add one with `secretfile add NAME`");
  } else {
    process.stdout.write(table(secrets));
  }
}

function table(secrets: SecretInfo[]): string {
  const rows = [["NAME", "UPDATED", "EXPIRES", "STATUS", "LAST READ", "DESCRIPTION"]];
  for (const s of withStatus(secrets)) {
    rows.push([
      s.name,
      s.updated.slice(0, 10),
      s.expires?.slice(0, 10) ?? "-",
      s.status,
      lastReadCell(s.lastRead),
      s.description ?? "",
    ]);
  }
  return formatTable(rows);
}

/** Each secret with its expiry status now: "expired", "due" (for rotation) or "ok". */
function withStatus(secrets: SecretInfo[]) {
  const now = new Date();
  return secrets.map((s) => ({ ...s, status: status(s, now) }));
}
