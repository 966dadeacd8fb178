// Running the job: from an argv array (never a shell), signals passed through, its status returned.
// Rules: exit with the job's status, 128+N when a signal N killed it; 127 when it is not found, 126 when it cannot run;
// output is masked unless asked not to, and then it never waits for the job to end before passing output on.

import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ExitCode, FailureError, SecretfileError } from "../errors.js";
import { Masker, maskPatterns } from "./mask.js";

type Patterns = ReturnType<typeof maskPatterns>;

/** The signals passed on to the job. */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"];

/** The signals a terminal sends to its whole foreground process group. */
const TERMINAL_SIGNALS: ReadonlySet<string> = new Set(["SIGINT", "SIGQUIT", "SIGWINCH"]);

/** A job that could not be started: 127 (not found) or 126 (not executable), as a shell reports it. */
export class CannotRunError extends SecretfileError {
  constructor(command: string, status: 126 | 127, cause?: unknown) {
    const notFound = status === ExitCode.commandNotFound;
    super("cannot-run", notFound ? ExitCode.commandNotFound : ExitCode.cannotExecute, `cannot run ${command}: ${notFound ? "command not found" : "permission denied"}`, {
      hint: notFound ? "check the command's name and PATH (cron's PATH is short: use a full path)" : `chmod +x ${command}`,
      cause,
    });
  }
}

/** Returns the full path of `command`, searched in `PATH` like execvp; throws CannotRunError. */
export function resolveCommand(command: string, envPath: string | undefined): string {
  const candidates = command.includes("/")
    ? [command]
    : (envPath ?? "/usr/local/bin:/usr/bin:/bin").split(":").map((d) => path.join(d || ".", command));
  let denied = false;
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) {
        denied ||= command.includes("/"); // a folder named by path: a shell says 126, "Is a directory"
        continue;
      }
      accessSync(file, constants.X_OK);
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EACCES") denied = true;
    }
  }
  throw new CannotRunError(command, denied ? 126 : 127);
}

/**
 * Returns the masking patterns of `values` as a function that builds them when first called (10,000 values take
 * longer to turn into patterns than Node takes to start, and a job that prints nothing never needs them), or undefined
 * when no value would be masked (then the job gets the terminal directly).
 */
export function maskOnDemand(values: Map<string, string>): (() => Patterns) | undefined {
  let any = false;
  for (const entry of values) if ((any = maskPatterns(new Map([entry])).length > 0)) break;
  if (!any) return undefined;
  let patterns: Patterns | undefined;
  return () => (patterns ??= maskPatterns(values));
}

/** How the job's output is handled. */
export interface RunOptions {
  /** The patterns to mask in the job's standard output and error (see maskOnDemand); none: the job gets the terminal. */
  mask?: () => Patterns;
  /** Keep this process while the job runs (never execve), for work to do after it ends. */
  stay?: boolean;
}

/**
 * Runs `argv` with `env`, forwarding signals; resolves with the exit status the CLI should end with
 * (the job's own, or 128+N for signal N). With patterns to mask, the job's output passes through a
 * Masker; without, the job inherits the terminal (and replaces this process where Node can execve).
 */
export async function runJob(argv: string[], env: Record<string, string>, opts: RunOptions = {}): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) throw new FailureError("no command to run");
  const file = resolveCommand(command, env.PATH);
  const masking = opts.mask !== undefined;
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string>) => never }).execve;
  if (!masking && !opts.stay && typeof execve === "function") execve(file, [command, ...args], env);

  // At a terminal the job stays in our process group, the terminal's foreground group: the terminal's own
  // INT, QUIT and WINCH reach it directly, so forwarding those would deliver them twice. Without a terminal
  // (cron, systemd) the job gets a process group of its own, so a signal to our group reaches it once, via us.
  const atTerminal = process.stdin.isTTY === true || process.stdout.isTTY === true || process.stderr.isTTY === true;
  // Handlers go in before the job starts: a signal that arrives while it starts is passed on once it exists.
  let child: ChildProcess | undefined;
  const early: NodeJS.Signals[] = [];
  const forward = (signal: NodeJS.Signals) => {
    if (child === undefined) early.push(signal);
    else child.kill(signal);
  };
  const ignore = () => undefined;
  const handlers = FORWARDED_SIGNALS.map((s) => [s, atTerminal && TERMINAL_SIGNALS.has(s) ? ignore : forward] as const);
  for (const [s, handler] of handlers) process.on(s, handler);
  try {
    child = spawn(file, args, { argv0: command, env, detached: !atTerminal, stdio: masking ? ["inherit", "pipe", "pipe"] : "inherit" });
  } catch (err) {
    for (const [s, handler] of handlers) process.off(s, handler);
    throw err;
  }
  for (const signal of early.splice(0)) child.kill(signal);
  const job = child;
  const outputs: Promise<void>[] = [];
  if (masking) {
    for (const [from, to] of [[job.stdout!, process.stdout], [job.stderr!, process.stderr]] as const) {
      outputs.push(maskedCopy(from, to, opts.mask!).catch(() => undefined));
    }
  }

  try {
    const status = await new Promise<number>((resolve, reject) => {
      job.once("error", (err) => reject(new CannotRunError(command, (err as NodeJS.ErrnoException).code === "EACCES" ? 126 : 127, err)));
      job.once("exit", (code, signal) => {
        resolve(signal !== null ? 128 + (os.constants.signals[signal] ?? 0) : (code ?? 1));
      });
    });
    await Promise.all(outputs);
    return status;
  } finally {
    for (const [s, handler] of handlers) process.off(s, handler);
  }
}

/** Copies the job's `from` to `to` through a Masker, building the patterns once the job has written something. */
async function maskedCopy(from: Readable, to: Writable, patterns: () => Patterns): Promise<void> {
  await new Promise((resolve) => from.once("readable", resolve).once("error", resolve));
  await pipeline(from, new Masker(from.readableLength > 0 ? patterns() : []), to, { end: false });
}
