// `secretfile history NAME`: a secret's versions with their dates, never values; `history --keep N` sets how many
// earlier values every secret keeps.

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { parseHistoryKeep, type VersionInfo } from "../../store/history.js";
import { checkName } from "../../store/names.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";
import { jsonText } from "../escape.js";
import { formatTable } from "../table.js";

/** Registers `history`. */
export function register(program: Command): void {
  withWhere(program.command("history"))
    .description("list a secret's versions and dates (never values); without NAME, how many earlier values are kept")
    .argument("[NAME]", "the secret's name")
    .option("--json", 'print JSON: the versions, or {"keep": N} without NAME')
    .option(
      "--keep <n>",
      "keep this many earlier values of every secret (default 5; 0 keeps none and drops those kept)",
    )
    .action(async (name: string | undefined, opts: WhereOptions & { json?: boolean; keep?: string }) => {
      const keep = opts.keep === undefined ? undefined : parseHistoryKeep(opts.keep);
      if (name !== undefined && keep !== undefined) {
        throw new UsageError("give NAME or --keep, not both", {
          hint: "`secretfile history NAME` lists versions; `secretfile history --keep N` sets the limit",
        });
      }
      const backend = await backendOf(opts);
      if (name === undefined) {
        const now = await backend.historyKeep(keep);
        if (opts.json) process.stdout.write(`${jsonText({ keep: now })}\n`);
        else note(`${keep === undefined ? "each secret keeps" : "each secret now keeps"} up to ${now} earlier values`);
        return;
      }
      const history = await backend.history(checkName(name));
      if (opts.json) {
        process.stdout.write(`${jsonText(history.versions, 2)}\n`);
        return;
      }
      process.stdout.write(table(history.versions));
      if (history.versions.length > 1)
        note(
          `\`secretfile rollback ${name} --to VERSION\` restores one (up to ${history.keep} earlier values are kept)`,
        );
      else
        note(
          `no earlier values yet: \`secretfile add ${name} --replace\` keeps the current one (up to ${history.keep})`,
        );
    });
}

function table(versions: VersionInfo[]): string {
  const rows = [["VERSION", "SINCE", "UNTIL", "NOTE"]];
  for (const v of versions) {
    const notes = [
      v.current ? "current" : "",
      v.restoredFrom === undefined ? "" : `restored from ${v.restoredFrom}`,
    ].filter((n) => n !== "");
    rows.push([String(v.version), v.since, v.replaced ?? "-", notes.join(", ")]);
  }
  return formatTable(rows);
}
