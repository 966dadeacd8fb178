// `secretfile report`: what needs attention, secret by secret, for cron to mail; quiet when all is well.
// Rules: no output and exit 0 when nothing is found; one line a finding and exit 1 otherwise (--json: always one JSON
// document on standard output); an error of its own is another exit code, never mistaken for a finding.

import { Option, type Command } from "commander";
import { REPORT_DEFAULTS, reportFindings, reportWindow } from "../../doctor/report.js";
import { resolvePaths } from "../../system/paths.js";
import { escapeText, jsonText } from "../escape.js";
import { withWhere, whereOf, type WhereOptions } from "../options.js";

interface ReportFlags extends WhereOptions {
  policy?: string;
  audit?: string;
  expiring: string;
  unread: string;
  since: string;
  json?: boolean;
}

/** Registers `report`. */
export function register(program: Command): void {
  withWhere(program.command("report"))
    .description(
      "list what needs attention (expiry, rotation, unread keys, refused reads, stopped jobs); quiet when nothing does",
    )
    .addOption(new Option("--policy <file>", "system mode: the policy file, for expect lines (env SECRETFILE_POLICY)"))
    .addOption(new Option("--audit <file>", "system mode: the audit log (env SECRETFILE_AUDIT)"))
    .option(
      "--expiring <duration>",
      "list secrets that expire within this time, e.g. 14d or 2w",
      REPORT_DEFAULTS.expiring,
    )
    .option("--unread <duration>", "system mode: list secrets no job has read for this time", REPORT_DEFAULTS.unread)
    .option(
      "--since <duration>",
      "system mode: list refused reads since this time ago (the cron interval)",
      REPORT_DEFAULTS.since,
    )
    .option("--json", "print the findings as JSON (always, even when there are none)")
    .action(async (flags: ReportFlags) => {
      const window = reportWindow(new Date(), flags);
      const { gatherReport } = await import("../../doctor/report-input.js");
      const paths = resolvePaths({ policy: flags.policy, audit: flags.audit });
      const findings = reportFindings(await gatherReport(whereOf(flags), paths, window));
      const text =
        flags.json === true
          ? `${jsonText({ findings, attention: findings.length > 0 })}\n`
          : findings.map((f) => `${escapeText(f.text)}\n`).join("");
      if (text !== "")
        await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
      if (findings.length > 0) process.exitCode = 1;
    });
}
