// The small entry (dist/hot.cjs): `get`, `exec` and `ls` in their plain forms, without commander, the command table
// or any other command's code, for the jobs that start by the hundred at the top of the hour.
// Rules: the same actions, hardening and error mapping as the full CLI (the same functions), each command's code
// evaluated only when it runs (as in main.ts); a form it does not know
// (src/cli/forms.ts) is left to the full CLI before anything runs, so messages, exit codes and options stay its own.

import { ExitCode } from "../errors.js";
import type { ExecOptions } from "./commands/exec.js";
import { EXEC_OPTIONS, LS_OPTIONS, parseSimple, WHERE_OPTIONS } from "./forms.js";
import { hardenCli } from "./hygiene.js";
import { whereOf, type WhereOptions } from "./options.js";
import { execFailed, reportError } from "./report.js";

/**
 * The one command this copy of the entry runs: the build bundles it once per hot command (dist/hot-WORD.cjs, esbuild's
 * `define`; the test is written out at each branch so that esbuild drops the others), so each bundle holds that
 * command's code only; unbundled (the tests), it runs all three.
 */
declare const SECRETFILE_HOT: string;
/**
 * True in a command's bundle for the agent alone (dist/hot-get-agent.cjs, the launcher's HOT_BUNDLES), which holds no
 * personal store code: it runs a form only when that form goes to the agent, and hands any other to the next bundle
 * before anything runs; unbundled (the tests), undefined.
 */
declare const SECRETFILE_AGENT_ONLY: boolean;

/**
 * Runs `argv` (without node and the script) when it is a form this entry knows, resolving with the exit code; returns
 * undefined, having done nothing, for any other form, which the full CLI (dist/secretfile.cjs) then runs.
 */
export function main(argv: readonly string[]): Promise<number> | undefined {
  const [word, ...rest] = argv;
  if (word === "get" && (typeof SECRETFILE_HOT === "undefined" || SECRETFILE_HOT === "get")) {
    const form = parseSimple(rest, WHERE_OPTIONS, { count: 1 });
    if (typeof SECRETFILE_AGENT_ONLY !== "undefined" && SECRETFILE_AGENT_ONLY && !(form && goesToAgent(form.opts)))
      return undefined;
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

/** True when a command with these options would ask the agent (a usage error in them is the next bundle's to report). */
function goesToAgent(opts: WhereOptions): boolean {
  try {
    return whereOf(opts).mode === "agent";
  } catch {
    return false;
  }
}

/** Hardens this process as the full CLI does before a command, runs `action`, and maps its error as main.ts does. */
async function run(isExec: boolean, action: () => Promise<void>): Promise<number> {
  try {
    await hardenCli({ keepCoreLimit: isExec });
    await action();
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (err) {
    return isExec ? execFailed(reportError(err)) : reportError(err);
  }
}
