// `secretfile setup`: root makes the service account, folders, identity, store, policy and systemd units.

import { existsSync, realpathSync } from "node:fs";
import { Option, type Command } from "commander";
import { resolvePaths } from "../../system/paths.js";
import { FailureError, SecretfileError, UsageError } from "../../errors.js";
import { note, warn } from "../report.js";

/** Registers `setup`. */
export function register(program: Command): void {
  program
    .command("setup")
    .description(
      "as root: create the service account, its folders, identity, empty store, policy and systemd units (safe to run again; it refuses a folder or an account that is not its own)",
    )
    .addOption(new Option("--dir <dir>", "the agent's state folder (env SECRETFILE_DIR, default /var/lib/secretfile)"))
    .addOption(
      new Option("--socket <path>", "the agent's socket (env SECRETFILE_SOCKET, default /run/secretfile/agent.sock)"),
    )
    .addOption(new Option("--policy <file>", "the policy file (env SECRETFILE_POLICY, default /etc/secretfile/policy)"))
    .addOption(
      new Option("--audit <file>", "the audit log (env SECRETFILE_AUDIT, default /var/log/secretfile/audit.log)"),
    )
    .addOption(new Option("--units-dir <dir>", "where to write the systemd units (default /etc/systemd/system)"))
    .addOption(
      new Option("--user <name>", "the service account (default secretfile); an existing one must have no other role"),
    )
    .option(
      "--adopt-user",
      "take an existing --user that has another role (uid outside the system range, login shell, home with content, password, supplementary groups, crontab, running processes, files of its own: another daemon's account) as it is, with a warning for each: whoever can act as it can read every secret",
    )
    .option("--pq", "make a post-quantum hybrid (ML-KEM-768 + X25519) identity, if none exists yet")
    .option("--no-start", "write everything, start nothing (the package's postinst starts the agent itself)")
    .addOption(
      new Option(
        "--seal <method>",
        "keep the identity only as an encrypted systemd credential (method: systemd-creds)",
      ),
    )
    .addOption(
      new Option(
        "--credential <file>",
        "where --seal puts it (env SECRETFILE_CREDENTIAL, default /etc/credstore.encrypted/secretfile-identity)",
      ),
    )
    // STATE_FLAG in src/setup/state.ts: setup runs itself with it, as the service account, to make the identity and store.
    .addOption(new Option("--internal-prepare-state", "run by setup itself, as the service account").hideHelp())
    .action(async (flags: SetupFlags) => {
      if (flags.internalPrepareState) return prepareStateHere(flags);
      const { setup } = await import("../../setup/setup.js");
      const { PACKAGE_LIB, PACKAGE_UNITS_DIR } = await import("../../setup/systemd.js");
      const { checkSealMethod, DEFAULT_CREDENTIAL } = await import("../../setup/seal.js");
      if (flags.credential !== undefined && flags.seal === undefined)
        throw new UsageError("--credential goes with --seal", { hint: "add --seal systemd-creds" });
      if (flags.seal !== undefined) checkSealMethod(flags.seal);
      const credential = flags.credential ?? (process.env.SECRETFILE_CREDENTIAL || undefined) ?? DEFAULT_CREDENTIAL;
      const launcher = process.argv[1];
      if (launcher === undefined) throw new FailureError("cannot tell where secretfile is installed (no script path)");
      const installed = realpathSync(launcher);
      await setup({
        paths: resolvePaths({ dir: flags.dir, socket: flags.socket, policy: flags.policy, audit: flags.audit }),
        // The package's CLI keeps the package's units (/lib/systemd/system) rather than writing copies no package owns.
        unitsDir: flags.unitsDir ?? (installed.startsWith(`${PACKAGE_LIB}/`) ? PACKAGE_UNITS_DIR : undefined),
        user: flags.user,
        pq: flags.pq === true,
        run: { node: process.execPath, launcher: installed },
        systemd: existsSync("/run/systemd/system"),
        start: flags.start,
        seal: flags.seal === undefined ? undefined : { credential },
        adoptUser: flags.adoptUser === true,
        onAction: (a) =>
          a.kind === "warning" ? warn(a.text) : a.kind === "next" ? note(a.text) : note(`${a.kind} ${a.text}`),
      });
    });
}

interface SetupFlags {
  dir?: string;
  socket?: string;
  policy?: string;
  audit?: string;
  unitsDir?: string;
  user?: string;
  adoptUser?: boolean;
  pq?: boolean;
  start: boolean;
  seal?: string;
  credential?: string;
  internalPrepareState?: boolean;
}

// The child setup starts as the service account: it makes or checks the identity and store, and answers in JSON.
async function prepareStateHere(flags: SetupFlags): Promise<void> {
  const { answerOf, prepareState } = await import("../../setup/state.js");
  if (process.getuid?.() === 0 || flags.dir === undefined) {
    throw new FailureError("--internal-prepare-state is for setup itself, run as the service account with --dir");
  }
  process.umask(0o077);
  let answer: string;
  try {
    answer = answerOf(await prepareState(flags.dir, flags.pq === true));
  } catch (err) {
    if (!(err instanceof SecretfileError)) throw err;
    answer = answerOf(err);
    process.exitCode = err.exitCode;
  }
  await new Promise<void>((resolve, reject) => process.stdout.write(`${answer}\n`, (e) => (e ? reject(e) : resolve())));
}
