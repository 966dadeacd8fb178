// The options several commands share, and turning them into a backend.
// Rules: every path has one flag and one environment variable; the flag wins.

import type { Command } from "commander";
import { chooseWhere, openBackend, type Backend, type Where } from "../client/backend.js";
import { WHERE_OPTIONS, type OptionSpec } from "./forms.js";
import { note } from "./report.js";

/** The parsed shared options. */
export interface WhereOptions {
  dir?: string;
  socket?: string;
}

/** Adds --dir and --socket to `cmd`. */
export function withWhere(cmd: Command): Command {
  return withOptions(cmd, WHERE_OPTIONS);
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Adds the options of `specs` (src/cli/forms.ts) to `cmd`, a repeatable one collecting its values; returns `cmd`. */
export function withOptions(cmd: Command, specs: readonly OptionSpec[]): Command {
  for (const spec of specs) {
    if (spec.repeatable) cmd.option(spec.flags, spec.description, collect);
    else cmd.option(spec.flags, spec.description);
  }
  return cmd;
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
