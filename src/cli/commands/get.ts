// `secretfile get NAME`: the value on standard output, exactly, nothing added.

import type { Command } from "commander";
import { checkName } from "../../store/names.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";

/** Registers `get`. */
export function register(program: Command): void {
  withWhere(program.command("get"))
    .description("print a secret's value on standard output, with nothing added")
    .argument("<NAME>", "the secret's name")
    .action(async (name: string, opts: WhereOptions) => {
      checkName(name);
      const value = await (await backendOf(opts)).get(name);
      await new Promise<void>((resolve, reject) => process.stdout.write(value, (err) => (err ? reject(err) : resolve())));
    });
}
