// The options several commands share, and turning them into a backend.
// Rules: every path has one flag and one environment variable; the flag wins.

import { Option, type Command } from "commander";
import { chooseWhere, openBackend, type Backend, type Where } from "../client/backend.js";
import { note } from "./report.js";

/** The parsed shared options. */
export interface WhereOptions {
  dir?: string;
  socket?: string;
}

/** Adds --dir and --socket to `cmd`. */
export function withWhere(cmd: Command): Command {
  return cmd
    .addOption(new Option("--dir <dir>", "personal store folder (env SECRETFILE_DIR)"))
    .addOption(new Option("--socket <path>", "agent socket (env SECRETFILE_SOCKET)"));
}

/** Returns where this command's secrets are. */
export function whereOf(opts: WhereOptions): Where {
  return chooseWhere({ dir: opts.dir, socket: opts.socket });
}

/** Returns the backend for the command's options; a wait for the store's lock is announced. */
export function backendOf(opts: WhereOptions): Promise<Backend> {
  return openBackend(whereOf(opts), {
    onLockWait: (lockPath) => note(`waiting for the lock ${lockPath} (another secretfile is writing)`),
    onCreated: (paths) => {
      note(`created a new personal store ${paths.store} and identity ${paths.identity}`);
      note(`back up ${paths.identity}: without it the store cannot be decrypted`);
    },
  });
}

/** Splits a comma-separated list of names. */
export function nameList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
