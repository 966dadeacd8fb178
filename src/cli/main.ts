// The command line: commander wiring, and the single place errors become exit codes.
// Rules: usage errors exit 2; expected errors print a message and a hint, never a stack trace; a command's module is
// loaded only when that command runs (or when help or an unknown word needs them all), so start-up pays for one.

import { Command, CommanderError } from "commander";
import { ExitCode } from "../errors.js";
import { hardenCli } from "./hygiene.js";
import { execFailed, reportError } from "./report.js";

declare const SECRETFILE_VERSION: string;
/** The commit the bundle was built from (`git rev-parse --short HEAD` in build/bundle.mjs; "unknown" outside git). */
declare const SECRETFILE_COMMIT: string;

/** A command module: src/cli/commands/NAME.ts, whose `register` adds the command (and its subcommands). */
interface CommandModule {
  register(program: Command): void;
}

/**
 * Every command, in the order `--help` lists them, by the word that invokes it. Adding a command is one line here;
 * the word must be the name its module registers.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  init: () => import("./commands/init.js"),
  add: () => import("./commands/add.js"),
  update: () => import("./commands/update.js"),
  get: () => import("./commands/get.js"),
  ls: () => import("./commands/ls.js"),
  rm: () => import("./commands/rm.js"),
  history: () => import("./commands/history.js"),
  rollback: () => import("./commands/rollback.js"),
  rotate: () => import("./commands/rotate.js"),
  pending: () => import("./commands/pending.js"),
  approve: () => import("./commands/approve.js"),
  reject: () => import("./commands/reject.js"),
  "accept-store": () => import("./commands/accept-store.js"),
  import: () => import("./commands/import.js"),
  exec: () => import("./commands/exec.js"),
  render: () => import("./commands/render.js"),
  agent: () => import("./commands/agent.js"),
  policy: () => import("./commands/policy.js"),
  setup: () => import("./commands/setup.js"),
  audit: () => import("./commands/audit.js"),
  doctor: () => import("./commands/doctor.js"),
  report: () => import("./commands/report.js"),
  recipient: () => import("./commands/recipient.js"),
  recipients: () => import("./commands/recipients.js"),
  rekey: () => import("./commands/rekey.js"),
  export: () => import("./commands/export.js"),
};

/**
 * Returns the modules `argv` needs: none for `--version`, the one its first word names, or every one (help, no
 * command, an unknown word: commander then lists them or suggests the nearest).
 */
export function commandsFor(argv: readonly string[]): (() => Promise<CommandModule>)[] {
  if (argv[0] === "-V" || argv[0] === "--version") return [];
  const word = commandWord(argv);
  const one = word !== undefined && Object.hasOwn(COMMANDS, word) ? COMMANDS[word] : undefined;
  return one !== undefined ? [one] : Object.values(COMMANDS);
}

/** Returns the word of `argv` that names its command (the first that is not an option), or undefined. */
function commandWord(argv: readonly string[]): string | undefined {
  return argv.find((arg) => !arg.startsWith("-"));
}

/** Runs the CLI with `argv` (without node and the script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command("secretfile")
    .description("API keys for scheduled jobs, in one age-encrypted file")
    .version(
      `${typeof SECRETFILE_VERSION === "string" ? SECRETFILE_VERSION : "dev"} (commit ${typeof SECRETFILE_COMMIT === "string" ? SECRETFILE_COMMIT : "unknown"})`,
      "-V, --version",
    )
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`secretfile: ${text.trimEnd()}\n`) });
  // Before any command runs (and so before it holds a value): no core file, no reading of this process's memory.
  program.hook("preAction", async (_program, action) => {
    let top = action;
    while (top.parent !== null && top.parent !== program) top = top.parent;
    await hardenCli({ keepCoreLimit: top.name() === "exec" });
  });
  try {
    for (const command of await Promise.all(commandsFor(argv).map((load) => load()))) command.register(program);
    const override = (cmd: Command): void => {
      cmd.exitOverride();
      cmd.commands.forEach(override);
    };
    program.commands.forEach(override);
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : ExitCode.ok;
  } catch (err) {
    const code = err instanceof CommanderError ? (err.exitCode === 0 ? ExitCode.ok : ExitCode.usage) : reportError(err);
    return commandWord(argv) === "exec" ? execFailed(code) : code;
  }
}
