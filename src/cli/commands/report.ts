// `secretfile report`: what needs attention, secret by secret, for cron to mail; quiet when all is well.
// Rules: no output and exit 0 when nothing is found; one line a finding and exit 1 otherwise (--json: always one JSON
// document on standard output); an error of its own is another exit code, never mistaken for a finding.

import { Option, type Command } from "commander";
import { parseSince } from "../../audit/filter.js";
import { UsageError } from "../../errors.js";
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
    .option("--expiring <duration>", "list secrets that expire within this time, e.g. 14d or 2w", "14d")
    .option("--unread <duration>", "system mode: list secrets no job has read for this time", "30d")
    .option("--since <duration>", "system mode: list refused reads since this time ago (the cron interval)", "1d")
    .option("--json", "print the findings as JSON (always, even when there are none)")
    .action(async (flags: ReportFlags) => {
      const now = new Date();
      const ago = (flag: string, text: string) => {
        try {
          return parseSince(text, now);
        } catch {
          throw new UsageError(`invalid ${flag} ${JSON.stringify(text.slice(0, 40))}`, {
            hint: `give a duration such as 30m, 12h, 14d or 2w, e.g. ${flag} 14d`,
          });
        }
      };
      const window = {
        now,
        expiringBefore: new Date(2 * now.getTime() - ago("--expiring", flags.expiring).getTime()),
        unreadSince: ago("--unread", flags.unread),
        refusedSince: ago("--since", flags.since),
      };
      const { gatherReport } = await import("../../doctor/report-input.js");
      const { reportFindings } = await import("../../doctor/report.js");
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
