// `secretfile rollback NAME [--to VERSION]`: make an earlier value current again; the value it replaces is kept, so
// `secretfile rollback NAME` run again undoes it.

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { checkName } from "../../store/names.js";
import { checkWritableName } from "../../store/reserved-names.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

/** Registers `rollback`. */
export function register(program: Command): void {
  withWhere(program.command("rollback"))
    .description("make an earlier value of a secret current again (`secretfile history NAME` lists them)")
    .argument("<NAME>", "the secret's name")
    .option("--to <version>", "the version to restore (default: the one before the current)")
    .action(async (name: string, opts: WhereOptions & { to?: string }) => {
      checkWritableName(checkName(name));
      const to = opts.to === undefined ? undefined : parseVersion(opts.to);
      const done = await (await backendOf(opts)).rollback(name, to);
      note(`${name} is back to the value of version ${done.restored}, as version ${done.version}`);
      note(`\`secretfile rollback ${name}\` undoes it`);
    });
}

function parseVersion(text: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(text)) {
    throw new UsageError(`invalid version ${JSON.stringify(text.slice(0, 40))}`, {
      hint: "give a version number from `secretfile history NAME`",
    });
  }
  return Number(text);
}
