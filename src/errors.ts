// The typed errors of secretfile, and the exit codes they map to.
// Rules: the core throws only these; a message names the file or secret and never holds a value.

/** The CLI's exit codes, as the design fixes them. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  denied: 4,
  undecryptable: 5,
  agentUnreachable: 6,
  /** The change was not applied: it waits for approval (an `approve` rule of the policy). */
  pending: 7,
  /** `exec`: the command exists but cannot be run (as a shell reports it). */
  cannotExecute: 126,
  /** `exec`: the command was not found (as a shell reports it). */
  commandNotFound: 127,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * `exec` passes its job's status through, so its own failures must not look like one: secretfile's code N (1 to 7)
 * ends `exec` as 100 + N (104: refused), a range jobs rarely use, as `env` and `timeout` keep 125 for themselves.
 * 126 and 127 (the command cannot run, or is not found) stay as a shell reports them. Returns the code `exec` exits with.
 */
export function execOwnExit(code: number): number {
  return code >= ExitCode.failure && code <= ExitCode.pending ? 100 + code : code;
}

/** Options shared by every secretfile error. */
export interface ErrorDetails {
  /** What the user can do next, printed as `secretfile: hint: …`. */
  hint?: string;
  /** The underlying error, kept for debugging, never printed by default. */
  cause?: unknown;
}

/** The base of every expected error: a stable code, an exit code and an optional hint. */
export class SecretfileError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;

  constructor(code: string, exitCode: ExitCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "SecretfileError";
    this.code = code;
    this.exitCode = exitCode;
    this.hint = details.hint;
  }
}

/** Returns a subclass of SecretfileError with a fixed code and exit code. */
function kind(code: string, exitCode: ExitCode) {
  return class extends SecretfileError {
    constructor(message: string, details?: ErrorDetails) {
      super(code, exitCode, message, details);
      this.name = new.target.name;
    }
  };
}

/** Exit 2: a bad command line, name or value. */
export class UsageError extends kind("usage", ExitCode.usage) {}

/** Exit 3: the named secret does not exist. */
export class NotFoundError extends kind("not-found", ExitCode.notFound) {}

/** Exit 4: the policy refuses, or a file's owner or mode is unsafe. */
export class AccessError extends kind("denied", ExitCode.denied) {}

/** Exit 5: a store or identity that cannot be decrypted or parsed. */
export class CorruptError extends kind("undecryptable", ExitCode.undecryptable) {}

/**
 * Exit 5: the store on disk is older than, or a fork of, the newest one this host has served (exit 5, as a store that cannot
 * be used: the fix is on the store, not on the caller's rights).
 */
export class StaleStoreError extends kind("stale-store", ExitCode.undecryptable) {}

/** Exit 6: the agent cannot be reached. */
export class AgentUnreachableError extends kind("agent-unreachable", ExitCode.agentUnreachable) {}

/** Exit 7: the change was not applied: it waits for approval (the message names the pending change and its fingerprint). */
export class PendingError extends kind("pending", ExitCode.pending) {}

/** Exit 1: any other failure the user can act on (a failed write, a lost lock, …). */
export class FailureError extends kind("failure", ExitCode.failure) {}

/** Exit 1: there is no identity or store where one was expected. */
export class NoStoreError extends kind("no-store", ExitCode.failure) {}

/** Exit 1: a file that must be created already exists. */
export class ExistsError extends kind("exists", ExitCode.failure) {}
