// Installing the units, and starting the agent: through systemd when it runs the host, else told to the admin.
// Rules: units are rewritten only when they differ; systemctl runs only when systemd is PID 1 and the units went to
// a directory it reads; without systemd, setup starts nothing and says how to start the agent (the init script the
// Debian package installs, else by hand).

import { existsSync } from "node:fs";
import path from "node:path";
import { FailureError } from "../errors.js";
import type { AgentPaths } from "../system/paths.js";
import type { ActionLog } from "./actions.js";
import { ensureFolder, lstatOrNull, writeIfDifferent } from "./files.js";
import { unitsFolder } from "./folders.js";
import { firstExisting, firstLine, runProgram } from "./run.js";
import type { Launcher } from "./state.js";
import { UNIT_NAMES, type Units } from "./units.js";

/** The folder systemd reads administrators' units from. */
export const SYSTEM_UNITS_DIR = "/etc/systemd/system";

/** Where the Debian package ships its units, and where setup keeps them when the package's CLI runs it. */
export const PACKAGE_UNITS_DIR = "/lib/systemd/system";

/** Where the Debian package installs the code and its runtime (the launcher is `${PACKAGE_LIB}/bin/secretfile`). */
export const PACKAGE_LIB = "/usr/lib/secretfile";

/** The folders systemd reads units from: the administrator's, and the packages'. */
export const SYSTEMD_UNIT_DIRS: readonly string[] = [SYSTEM_UNITS_DIR, PACKAGE_UNITS_DIR, "/usr/lib/systemd/system"];

/** The init script the Debian package installs for hosts without systemd. */
export const INIT_SCRIPT = "/etc/init.d/secretfile";

/** What happened to each unit on disk. */
export interface UnitChanges {
  service: "created" | "updated" | "kept";
  socket: "created" | "updated" | "kept";
}

/**
 * Writes both units into `dir` (created root 0755 if missing), each only when its text differs.
 * Records one action per unit. Throws AccessError for a symlinked (masked) unit, FailureError otherwise.
 */
export async function installUnits(dir: string, units: Units, log: ActionLog): Promise<UnitChanges> {
  // systemd's own folder is left as it is; any other (a test's, say) is made root 0755.
  if (dir !== SYSTEM_UNITS_DIR || (await lstatOrNull(dir)) === null) {
    const f = unitsFolder(dir);
    await ensureFolder(f.dir, f.want, f.what, f.own, log);
  }
  const write = async (name: string, text: string) => {
    const file = path.join(dir, name);
    const done = await writeIfDifferent(file, text, "unit");
    log.add(done, `the unit ${file}`);
    return done;
  };
  return {
    service: await write(UNIT_NAMES.service, units.service),
    socket: await write(UNIT_NAMES.socket, units.socket),
  };
}

/** What start() needs to know. */
export interface StartOptions {
  /** True when systemd runs as PID 1 (/run/systemd/system exists). */
  systemd: boolean;
  unitsDir: string;
  changes: UnitChanges;
  user: string;
  run: Launcher;
  paths: AgentPaths;
  /** The systemctl to run (default /usr/bin/systemctl or /bin/systemctl). */
  systemctl?: string;
  /** The init script that starts the agent without systemd, when there is one (default INIT_SCRIPT if it exists). */
  initScript?: string | null;
}

/**
 * Enables and starts secretfile.socket with systemctl (after a daemon-reload when a unit changed,
 * restarting a running agent whose unit changed) when systemd runs and the units are in a folder of
 * SYSTEMD_UNIT_DIRS; otherwise records how to start the agent: with the init script when there is one,
 * else by hand. Throws FailureError when systemctl fails.
 */
export async function start(opts: StartOptions, log: ActionLog): Promise<void> {
  const initScript = opts.initScript === undefined ? (existsSync(INIT_SCRIPT) ? INIT_SCRIPT : null) : opts.initScript;
  if (!opts.systemd && initScript !== null) {
    log.add(
      "next",
      `systemd is not running here: start the agent with \`service secretfile start\` (the init script ${initScript}, which also remakes the socket's folder after a reboot; \`update-rc.d secretfile defaults\` has it start at boot)`,
    );
    return;
  }
  if (!opts.systemd || !SYSTEMD_UNIT_DIRS.includes(opts.unitsDir)) {
    const why = opts.systemd
      ? `the units are in ${opts.unitsDir}, not ${SYSTEM_UNITS_DIR}`
      : "systemd is not running here";
    log.add("next", `${why}, so nothing was started; start the agent by hand as root: ${manualCommand(opts)}`);
    if (!opts.systemd && opts.paths.socket.startsWith("/run/"))
      log.add("next", "/run is emptied at boot: after a reboot, run setup again before starting the agent");
    return;
  }
  const systemctl = opts.systemctl ?? firstExisting(["/usr/bin/systemctl", "/bin/systemctl"]);
  const call = async (...args: string[]) => {
    const ran = await runProgram(systemctl, args, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
    if (ran.code !== 0) {
      throw new FailureError(
        `systemctl ${args.join(" ")} failed (exit ${ran.code ?? ran.signal}): ${firstLine(ran.stderr)}`,
        {
          hint: `see \`systemctl status ${UNIT_NAMES.socket} ${UNIT_NAMES.service}\` and \`journalctl -u secretfile\``,
        },
      );
    }
    log.add("ran", `systemctl ${args.join(" ")}`);
  };
  const { service, socket } = opts.changes;
  if (service !== "kept" || socket !== "kept") await call("daemon-reload");
  await call("enable", "--now", UNIT_NAMES.socket);
  // A changed socket takes effect on restart (which stops the agent too: it Requires= the socket).
  if (socket === "updated") await call("restart", UNIT_NAMES.socket);
  else if (service === "updated") await call("try-restart", UNIT_NAMES.service);
}

/** Returns the command that starts the agent as the service account without systemd. */
export function manualCommand(opts: { user: string; run: Launcher; paths: AgentPaths }): string {
  const { dir, socket, policy, audit } = opts.paths;
  return `runuser -u ${opts.user} -- ${opts.run.node} ${opts.run.launcher} agent --dir ${dir} --socket ${socket} --policy ${policy} --audit ${audit} &`;
}
