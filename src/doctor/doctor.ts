// `secretfile doctor` as a library: which mode is in use and why, then the checks of that mode, as data.
// Rules: no printing and no exit here; healthy means no finding failed (warnings and information do not count).

import { existsSync } from "node:fs";
import type { Where } from "../client/backend.js";
import { SYSTEM_PATHS } from "../system/paths.js";
import { info, type Finding } from "./finding.js";
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
  findings.push(...checkStartup(opts.env ?? process.env));
  const runtime = runtimeReport(opts.runtime ?? { version: process.version, path: process.execPath }, now);
  findings.push(checkRuntime(runtime));
  return { where, findings, healthy: !findings.some((f) => f.status === "fail"), runtime };
}
