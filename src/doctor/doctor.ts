// `secretfile doctor` as a library: which mode is in use and why, then the checks of that mode, as data.
// Rules: no printing and no exit here; healthy means no finding failed (warnings and information do not count).

import { existsSync } from "node:fs";
import type { Where } from "../client/backend.js";
import { SYSTEM_PATHS } from "../system/paths.js";
import { NoStoreError, SecretfileError } from "../errors.js";
import { info, warn, type Finding } from "./finding.js";
import { checkPersonal } from "./personal.js";
import { checkRuntime, runtimeReport, type Runtime, type RuntimeReport } from "./runtime.js";
import { checkStartup } from "./startup.js";
import { checkSystem, type SystemPaths } from "./system.js";

/** What doctor needs to know. */
export interface DoctorOptions {
  /** The mode, as chooseWhere picked it. */
  where: Where;
  /** True when --dir chose the personal folder (the fixes then repeat it). */
  dirFlag: boolean;
  /** The system paths besides the socket (the socket comes from `where`). */
  system: Omit<SystemPaths, "socket">;
  now?: Date;
  /** The environment the commands run in (process.env unless given). */
  env?: NodeJS.ProcessEnv;
  /** The Node.js reported (this process's unless given). */
  runtime?: Runtime;
}

/** What doctor found. */
export interface DoctorReport {
  where: Where;
  findings: Finding[];
  /** True when no finding is a failure. */
  healthy: boolean;
  /** The Node.js secretfile runs on (its finding is among `findings`). */
  runtime: RuntimeReport;
}

/** Runs the checks of the mode in use and returns them. Throws only for an unexpected error. */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const now = opts.now ?? new Date();
  const { where } = opts;
  const findings =
    where.mode === "personal"
      ? await checkPersonal(where.dir, { dirFlag: opts.dirFlag, now })
      : await checkSystem({ socket: where.socket, ...opts.system }, now);
  if (where.mode === "personal" && existsSync(SYSTEM_PATHS.socket)) {
    findings.unshift(
      info(
        `a system agent listens at ${SYSTEM_PATHS.socket}, but this command uses the personal store because ${where.why}`,
      ),
    );
  }
  findings.push(...(await reportWarnings(opts, now)));
  findings.push(...checkStartup(opts.env ?? process.env));
  const runtime = runtimeReport(opts.runtime ?? { version: process.version, path: process.execPath }, now);
  findings.push(checkRuntime(runtime));
  return { where, findings, healthy: !findings.some((f) => f.status === "fail"), runtime };
}

/** The kinds of `secretfile report` that doctor's other checks do not cover already (expired and due are). */
const REPORT_ONLY: ReadonlySet<string> = new Set(["expiring", "unread", "refused", "missed"]);

/**
 * Returns `secretfile report`'s findings with its default windows as warnings (in system mode as root only: they need
 * the audit log), each fixed by looking at the report; a store or agent that cannot be asked is reported elsewhere.
 */
async function reportWarnings(opts: DoctorOptions, now: Date): Promise<Finding[]> {
  if (opts.where.mode === "agent" && process.getuid?.() !== 0) return [];
  const { gatherReport } = await import("./report-input.js");
  const { reportFindings, reportWindow } = await import("./report.js");
  try {
    const input = await gatherReport(opts.where, opts.system, reportWindow(now));
    return reportFindings(input)
      .filter((f) => REPORT_ONLY.has(f.kind))
      .map((f) => warn(f.text, "secretfile report"));
  } catch (err) {
    if (!(err instanceof SecretfileError)) throw err;
    if (err instanceof NoStoreError) return []; // the personal checks say so already
    return [info(`the report's checks were not made: ${err.message}`)];
  }
}
