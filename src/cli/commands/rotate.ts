// `secretfile rotate NAME --exec SCRIPT [-- CHECK...]`: the caller's script makes the next value from the current one;
// it is stored (a write, under the policy and its approvals) only when the script and the check succeeded.
// Rules: the script runs as the caller, in this process's own user; a caller who may write NAME but not read it gives
// the script an empty standard input, and is told so; the value replaced stays in the history.

import type { Command } from "commander";
import { AccessError, NotFoundError, UsageError } from "../../errors.js";
import { nextValue } from "../../exec/rotate.js";
import { checkName } from "../../store/names.js";
import { checkWritableName } from "../../store/reserved-names.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

/** The script's and the check's deadline when --timeout is not given, in seconds. */
export const DEFAULT_TIMEOUT_S = 60;

/** Registers `rotate`. */
export function register(program: Command): void {
  withWhere(program.command("rotate"))
    .description("replace a secret with the value a script makes from the current one, once a check accepts it")
    .usage("[options] NAME --exec SCRIPT [-- CHECK [ARG...]]")
    .argument("<NAME>", "the secret's name")
    .argument("[CHECK...]", "a command run with NAME set to the new value; it must succeed before the value is stored")
    .requiredOption("--exec <script>", "the program that reads the current value and prints the new one (no arguments)")
    .option("--timeout <seconds>", `how long the script, then the check, may run (default ${DEFAULT_TIMEOUT_S})`)
    .action(async (name: string, check: string[], opts: WhereOptions & { exec: string; timeout?: string }) => {
      checkWritableName(checkName(name));
      const timeoutMs = parseTimeout(opts.timeout ?? String(DEFAULT_TIMEOUT_S)) * 1000;
      const backend = await backendOf(opts);
      // Through the agent this needs the right to write NAME, and tells a writer only what `add` would.
      if ((await backend.holder(name)) === undefined)
        throw new NotFoundError(`no secret named ${name}`, {
          hint: `rotate changes an existing secret: add it first with \`secretfile add ${name}\``,
        });
      const current = await backend.get(name).catch((err: unknown) => {
        if (!(err instanceof AccessError)) throw err;
        note(`you may not read ${name}: the script gets an empty standard input`);
        return "";
      });
      const next = await nextValue({
        name,
        current,
        script: opts.exec,
        check,
        timeoutMs,
        env: process.env,
        print: (bytes) => process.stderr.write(bytes),
      });
      await backend.add(name, next, { replace: true });
      note(`rotated ${name}; the old value is kept in its history (\`secretfile rollback ${name}\` restores it)`);
    });
}

/** Returns the seconds of --timeout: a whole number from 1 to 86400. Throws UsageError (2). */
function parseTimeout(text: string): number {
  if (!/^[1-9][0-9]{0,4}$/.test(text) || Number(text) > 86_400) {
    throw new UsageError(`invalid --timeout ${JSON.stringify(text.slice(0, 40))}`, {
      hint: "give whole seconds from 1 to 86400, e.g. --timeout 120",
    });
  }
  return Number(text);
}
