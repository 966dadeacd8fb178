// `secretfile doctor`: which mode, which files, what is wrong and the command that fixes it.
// Rules: the report goes to standard output, one `ok`/`warn`/`FAIL`/`info` line a check, each problem followed by a
// `fix:` line (or, with --json, one JSON object); exit 0 when nothing failed, 1 otherwise.

import { Option, type Command } from "commander";
import { DEFAULT_CREDENTIAL, resolvePaths, SYSTEM_PATHS } from "../../system/paths.js";
import type { Finding } from "../../doctor/finding.js";
import { escapeText, jsonText } from "../escape.js";
import { withWhere, whereOf, type WhereOptions } from "../options.js";

interface DoctorFlags extends WhereOptions {
  stateDir?: string;
  policy?: string;
  audit?: string;
  credential?: string;
  json?: boolean;
}

const LABEL: Record<Finding["status"], string> = { ok: "ok  ", warn: "warn", fail: "FAIL", info: "info" };

/** Registers `doctor`. */
export function register(program: Command): void {
  withWhere(program.command("doctor"))
    .description("say which mode is in use and why, check its files and the agent, and print the fix for each problem")
    .addOption(
      new Option(
        "--state-dir <dir>",
        "system mode: the agent's state folder (env SECRETFILE_STATE_DIR, default /var/lib/secretfile)",
      ),
    )
    .addOption(new Option("--policy <file>", "system mode: the policy file (env SECRETFILE_POLICY)"))
    .addOption(new Option("--audit <file>", "system mode: the audit log (env SECRETFILE_AUDIT)"))
    .addOption(
      new Option("--credential <file>", "system mode: where a sealed identity would be (setup --seal)").default(
        DEFAULT_CREDENTIAL,
      ),
    )
    .option("--json", "print one JSON object: the mode and why, the runtime, the findings, healthy")
    .action(async (flags: DoctorFlags) => {
      const { runDoctor } = await import("../../doctor/doctor.js");
      const where = whereOf(flags);
      const paths = resolvePaths({ policy: flags.policy, audit: flags.audit });
      const stateDir = flags.stateDir ?? (process.env.SECRETFILE_STATE_DIR || undefined) ?? SYSTEM_PATHS.dir;
      const report = await runDoctor({
        where,
        dirFlag: flags.dir !== undefined,
        system: {
          stateDir,
          policy: paths.policy,
          audit: paths.audit,
          credential: flags.credential ?? DEFAULT_CREDENTIAL,
        },
      });
      const lines = [
        where.mode === "personal"
          ? `personal mode: the store in ${where.dir} (${where.why})`
          : `system mode: the agent at ${where.socket} (${where.why})`,
      ];
      for (const f of report.findings) {
        lines.push(`${LABEL[f.status]} ${f.text}`);
        if (f.fix !== undefined && f.status !== "ok" && f.status !== "info") lines.push(`     fix: ${f.fix}`);
      }
      const count = (status: string, what: string) => {
        const n = report.findings.filter((f) => f.status === status).length;
        return `${n === 0 ? "no" : n} ${what}${n === 1 ? "" : "s"}`;
      };
      lines.push(`${count("fail", "problem")} found, ${count("warn", "warning")}`);
      const { runtime, findings, healthy } = report;
      const text = flags.json
        ? jsonText({ ...where, runtime, findings, healthy }, 2)
        : lines.map(escapeText).join("\n");
      await new Promise<void>((resolve, reject) =>
        process.stdout.write(`${text}\n`, (e) => (e ? reject(e) : resolve())),
      );
      if (!report.healthy) process.exitCode = 1;
    });
}
