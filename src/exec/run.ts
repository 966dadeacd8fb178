// Running the job: from an argv array (never a shell), signals passed through, its status returned.
// Rules: exit with the job's status, 128+N when a signal N killed it; 127 when it is not found, 126 when it cannot run.

import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ExitCode, FailureError, SecretfileError } from "../errors.js";

/** The signals passed on to the job. */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"];

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
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EACCES") denied = true;
    }
  }
  throw new CannotRunError(command, denied ? 126 : 127);
}

/**
 * Runs `argv` with `env` and stdio inherited, forwarding signals; resolves with the exit status
 * the CLI should end with (the job's own, or 128+N for signal N).
 */
export async function runJob(argv: string[], env: Record<string, string>): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) throw new FailureError("no command to run");
  const file = resolveCommand(command, env.PATH);
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string>) => never }).execve;
  if (typeof execve === "function") execve(file, [command, ...args], env);

  const child = spawn(file, args, { argv0: command, env, stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => {
    child.kill(signal);
  };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once("error", (err) => reject(new CannotRunError(command, (err as NodeJS.ErrnoException).code === "EACCES" ? 126 : 127, err)));
      child.once("exit", (code, signal) => {
        resolve(signal !== null ? 128 + (os.constants.signals[signal] ?? 0) : (code ?? 1));
      });
    });
  } finally {
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  }
}
