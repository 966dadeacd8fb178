// How secretfile speaks on standard error: the one place errors become messages and exit codes.
// Rules: `secretfile: error: …` then `secretfile: hint: …`, lowercase, no final period; no stack trace for an
// expected error; an unexpected one shows its details only with SECRETFILE_DEBUG=1 (they could hold a value); every
// line is escaped (escape.ts), since a message can carry text from a store, a log or the agent.

import { ExitCode, execOwnExit, SecretfileError } from "../errors.js";
import { escapeText } from "./escape.js";

/** Writes an informational line to standard error. */
export function note(message: string): void {
  process.stderr.write(`secretfile: ${escapeText(message)}\n`);
}

/** Writes a warning line to standard error. */
export function warn(message: string): void {
  process.stderr.write(`secretfile: warning: ${escapeText(message)}\n`);
}

/** Prints `err` as the user should see it and returns the exit code to end with. */
export function reportError(err: unknown): number {
  if (err instanceof SecretfileError) {
    process.stderr.write(`secretfile: error: ${escapeText(err.message)}\n`);
    if (err.hint !== undefined) process.stderr.write(`secretfile: hint: ${escapeText(err.hint)}\n`);
    if (process.env.SECRETFILE_DEBUG === "1" && err.cause !== undefined)
      process.stderr.write(`${describeCause(err.cause)}\n`);
    return err.exitCode;
  }
  const kind = err instanceof Error ? err.name : typeof err;
  process.stderr.write(`secretfile: error: internal error (${kind})\n`);
  if (process.env.SECRETFILE_DEBUG === "1") {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } else {
    process.stderr.write(
      "secretfile: hint: run again with SECRETFILE_DEBUG=1 for details (they may include secret values), and report it\n",
    );
  }
  return ExitCode.failure;
}

/**
 * Returns the exit code of `exec` for its own failure `code` (errors.ts, execOwnExit), after saying on standard error
 * that the job did not run, so the job's own statuses keep their meaning for cron and monitoring.
 */
export function execFailed(code: number): number {
  const own = execOwnExit(code);
  if (own !== code)
    note(`the job was not started: exit ${own} is secretfile's own failure (${code}), not the job's status`);
  return own;
}

/** The cause as SECRETFILE_DEBUG shows it: an Error as `Name: message`, anything else as JSON when it can be. */
function describeCause(cause: unknown): string {
  if (cause instanceof Error || typeof cause !== "object" || cause === null) return String(cause);
  try {
    return JSON.stringify(cause);
  } catch {
    return Object.prototype.toString.call(cause);
  }
}
