// `secretfile audit`: who read which secret, from which program, and when, from the agent's audit log.

import { Option, type Command } from "commander";
import { resolvePaths } from "../../agent/config.js";
import { checkNameFilter, parseSince, type AuditFilter } from "../../audit/filter.js";
import { decisionLine } from "../../audit/format.js";
import { queryAudit } from "../../audit/query.js";
import { note } from "../report.js";

interface AuditFlags {
  audit?: string;
  name?: string;
  user?: string;
  since?: string;
  denied?: boolean;
  json?: boolean;
}

/** Registers `audit`. */
export function register(program: Command): void {
  program
    .command("audit")
    .description("show the agent's decisions from its audit log: who read which secret, from which program, when")
    .addOption(new Option("--audit <file>", "the audit log (env SECRETFILE_AUDIT, default /var/log/secretfile/audit.log)"))
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
      const counts = await queryAudit(file, filter, (record) => out.write(flags.json === true ? JSON.stringify(record) : decisionLine(record)));
      await out.end();
      if (counts.skipped > 0) {
        note(`skipped ${counts.skipped} line${counts.skipped === 1 ? "" : "s"} of ${file} that ${counts.skipped === 1 ? "is" : "are"} not an audit record (a line cut short by a crash, say)`);
      }
      if (counts.matched === 0) note(`no matching decisions among the ${counts.decisions} in ${file}`);
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
