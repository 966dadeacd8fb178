// `secretfile audit`: who read which secret, from which program, and when, from the agent's audit log.

import { Option, type Command } from "commander";
import { resolvePaths } from "../../system/paths.js";
import { checkNameFilter, parseSince, type AuditFilter } from "../../audit/filter.js";
import { decisionLine } from "../../audit/format.js";
import { queryAudit } from "../../audit/query.js";
import { verifyAuditLog } from "../../audit/verify.js";
import { CorruptError } from "../../errors.js";
import { escapeText, jsonText } from "../escape.js";
import { note } from "../report.js";

interface AuditFlags {
  audit?: string;
  name?: string;
  user?: string;
  since?: string;
  denied?: boolean;
  json?: boolean;
}

/** How many breaks `audit verify` lists before it only counts them. */
const BREAKS_SHOWN = 50;

/** Registers `audit` and `audit verify`. */
export function register(program: Command): void {
  const audit = program
    .command("audit")
    .description("show the agent's decisions from its audit log: who read which secret, from which program, when")
    .addOption(
      new Option("--audit <file>", "the audit log (env SECRETFILE_AUDIT, default /var/log/secretfile/audit.log)"),
    )
    .option("--name <name>", "only decisions about this secret (globs allowed: 'WEBEX_*')")
    .option("--user <user>", "only decisions for this user name or uid")
    .option("--since <when>", "only decisions since a duration ago (7d, 12h) or a date (2026-11-01, UTC)")
    .option("--denied", "only refusals")
    .option("--json", "print the matching records as JSON lines")
    .action(async (flags: AuditFlags) => {
      const filter: AuditFilter = {
        name: flags.name === undefined ? undefined : checkNameFilter(flags.name),
        user: flags.user,
        since: flags.since === undefined ? undefined : parseSince(flags.since),
        denied: flags.denied === true,
      };
      const file = resolvePaths({ audit: flags.audit }).audit;
      const out = new LineWriter();
      const counts = await queryAudit(file, filter, (record) =>
        out.write(flags.json === true ? jsonText(record) : escapeText(decisionLine(record))),
      );
      await out.end();
      if (counts.skipped > 0) {
        note(
          `skipped ${counts.skipped} line${counts.skipped === 1 ? "" : "s"} of ${file} that ${counts.skipped === 1 ? "is" : "are"} not an audit record (a line cut short by a crash, say)`,
        );
      }
      if (counts.matched === 0) note(`no matching decisions among the ${counts.decisions} in ${file}`);
    });
  audit
    .command("verify")
    .description(
      "check the audit log's hash chain: exit 0 when intact, 5 naming each removed, changed or reordered line",
    )
    .addOption(
      new Option("--audit <file>", "the audit log (env SECRETFILE_AUDIT, default /var/log/secretfile/audit.log)"),
    )
    .action(async (flags: { audit?: string }) => {
      const file = resolvePaths({ audit: flags.audit ?? audit.opts<AuditFlags>().audit }).audit;
      const report = await verifyAuditLog(file);
      if (report.unchained > 0) {
        note(
          `the first ${report.unchained} line${report.unchained === 1 ? "" : "s"} of ${file} predate${report.unchained === 1 ? "s" : ""} the hash chain and cannot be verified`,
        );
      }
      for (const b of report.breaks.slice(0, BREAKS_SHOWN)) note(`line ${b.line}: ${b.why}`);
      if (report.breaks.length > BREAKS_SHOWN) note(`… and ${report.breaks.length - BREAKS_SHOWN} more`);
      if (report.breaks.length > 0) {
        const first = report.breaks[0]!.line;
        throw new CorruptError(
          `the audit log ${file} is not intact: its hash chain breaks at line ${first}${report.breaks.length > 1 ? ` and ${report.breaks.length - 1} more place${report.breaks.length === 2 ? "" : "s"}` : ""}`,
          {
            hint: "compare it with a backup; the agent's journal (`journalctl -u secretfile`) records the last hash at every start and stop",
          },
        );
      }
      process.stdout.write(
        `the audit log ${file} is intact: ${report.lines} line${report.lines === 1 ? "" : "s"}, last hash ${report.head}\n`,
      );
    });
}

/** Writes lines to standard output, waiting when the pipe is full (a long log piped to `less` or `head`). */
class LineWriter {
  private closed = false;

  constructor() {
    process.stdout.once("error", () => (this.closed = true));
  }

  async write(line: string): Promise<void> {
    if (this.closed) return;
    if (process.stdout.write(`${line}\n`)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        process.stdout.off("drain", done).off("error", done);
        resolve();
      };
      process.stdout.on("drain", done).on("error", done);
    });
  }

  async end(): Promise<void> {
    if (!this.closed) await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  }
}
