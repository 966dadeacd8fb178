// `secretfile rm NAME`: remove a secret.

import type { Command } from "commander";
import { checkName } from "../../store/names.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

/** Registers `rm`. */
export function register(program: Command): void {
  withWhere(program.command("rm"))
    .description("remove a secret")
    .argument("<NAME>", "the secret's name")
    .action(async (name: string, opts: WhereOptions) => {
      checkName(name);
      await (await backendOf(opts)).remove(name);
      note(`removed ${name}`);
    });
}
