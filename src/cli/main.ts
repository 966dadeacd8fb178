// The command line: commander wiring, and the single place errors become exit codes.
// Rules: usage errors exit 2; expected errors print a message and a hint, never a stack trace.

import { Command, CommanderError } from "commander";
import { ExitCode } from "../errors.js";
import * as add from "./commands/add.js";
import * as agent from "./commands/agent.js";
import * as audit from "./commands/audit.js";
import * as doctor from "./commands/doctor.js";
import * as exec from "./commands/exec.js";
import * as exportStore from "./commands/export.js";
import * as get from "./commands/get.js";
import * as history from "./commands/history.js";
import * as importCmd from "./commands/import.js";
import * as init from "./commands/init.js";
import * as ls from "./commands/ls.js";
import * as policy from "./commands/policy.js";
import * as recipient from "./commands/recipient.js";
import * as recipients from "./commands/recipients.js";
import * as rekey from "./commands/rekey.js";
import * as rm from "./commands/rm.js";
import * as rollback from "./commands/rollback.js";
import * as setup from "./commands/setup.js";
import { hardenCli } from "./hygiene.js";
import { reportError } from "./report.js";

declare const SECRETFILE_VERSION: string;

/** Runs the CLI with `argv` (without node and the script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command("secretfile")
    .description("API keys for scheduled jobs, in one age-encrypted file")
    .version(typeof SECRETFILE_VERSION === "string" ? SECRETFILE_VERSION : "dev", "-V, --version")
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`secretfile: ${text.trimEnd()}\n`) });
  for (const command of [init, add, get, ls, rm, history, rollback, importCmd, exec, agent, policy, setup, audit, doctor]) command.register(program);
  for (const command of [recipient, recipients, rekey, exportStore]) command.register(program);
  // Before any command runs (and so before it holds a value): no core file, no reading of this process's memory.
  program.hook("preAction", async (_program, action) => {
    let top = action;
    while (top.parent !== null && top.parent !== program) top = top.parent;
    await hardenCli({ keepCoreLimit: top.name() === "exec" });
  });
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  program.commands.forEach(override);
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    return reportError(err);
  }
}
