// The small entry (dist/hot.cjs): `get`, `exec` and `ls` in their plain forms, without commander, the command table
// or any other command's code, for the jobs that start by the hundred at the top of the hour.
// Rules: the same actions, hardening and error mapping as the full CLI (the same functions), each command's code
// evaluated only when it runs (as in main.ts); a form it does not know
// (src/cli/forms.ts) is left to the full CLI before anything runs, so messages, exit codes and options stay its own.

import { ExitCode } from "../errors.js";
import type { ExecOptions } from "./commands/exec.js";
import { EXEC_OPTIONS, LS_OPTIONS, parseSimple, WHERE_OPTIONS } from "./forms.js";
import { hardenCli } from "./hygiene.js";
import { reportError } from "./report.js";

/**
 * The one command this copy of the entry runs: the build bundles it once per hot command (dist/hot-WORD.cjs, esbuild's
 * `define`; the test is written out at each branch so that esbuild drops the others), so each bundle holds that
 * command's code only; unbundled (the tests), it runs all three.
 */
declare const SECRETFILE_HOT: string;

/**
 * Runs `argv` (without node and the script) when it is a form this entry knows, resolving with the exit code; returns
 * undefined, having done nothing, for any other form, which the full CLI (dist/secretfile.cjs) then runs.
 */
export function main(argv: readonly string[]): Promise<number> | undefined {
  const [word, ...rest] = argv;
  if (word === "get" && (typeof SECRETFILE_HOT === "undefined" || SECRETFILE_HOT === "get")) {
    const form = parseSimple(rest, WHERE_OPTIONS, { count: 1 });
    return form && run(false, async () => (await import("./commands/get.js")).getAction(form.operands[0]!, form.opts));
  }
  if (word === "ls" && (typeof SECRETFILE_HOT === "undefined" || SECRETFILE_HOT === "ls")) {
    const form = parseSimple(rest, [...WHERE_OPTIONS, ...LS_OPTIONS], { count: 0 });
    return form && run(false, async () => (await import("./commands/ls.js")).lsAction(form.opts));
  }
  if (word === "exec" && (typeof SECRETFILE_HOT === "undefined" || SECRETFILE_HOT === "exec")) {
    const form = parseSimple(rest, [...WHERE_OPTIONS, ...EXEC_OPTIONS], { rest: true });
    return (
      form &&
      run(true, async () =>
        (await import("./commands/exec.js")).execAction(form.operands, form.opts as unknown as ExecOptions),
      )
    );
  }
  return undefined;
}

/** Hardens this process as the full CLI does before a command, runs `action`, and maps its error as main.ts does. */
async function run(isExec: boolean, action: () => Promise<void>): Promise<number> {
  try {
    await hardenCli({ keepCoreLimit: isExec });
    await action();
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (err) {
    return reportError(err);
  }
}
