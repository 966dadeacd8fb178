// How long the client waits on the agent in all (connecting, retrying, sending, reading): SECRETFILE_TIMEOUT seconds.
// Rules: one deadline for a whole command's request, retries included; a bad value is a usage error, never a default.

import { UsageError } from "../errors.js";
import type { Request } from "../protocol/wire.js";

/** The variable that sets the deadline, in seconds. */
export const TIMEOUT_VARIABLE = "SECRETFILE_TIMEOUT";

/** The deadline when the variable is unset, in seconds: a cron job fails after this rather than piling up. */
export const DEFAULT_TIMEOUT_S = 30;

/** The longest deadline accepted, in seconds (a day). */
const MAX_TIMEOUT_S = 86_400;

/**
 * Returns the deadline in ms from SECRETFILE_TIMEOUT in `env` (seconds, decimals allowed), else the default.
 * Throws UsageError (2) for a value that is not a number of seconds above 0 and at most a day.
 */
export function agentTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[TIMEOUT_VARIABLE];
  if (text === undefined || text === "") return DEFAULT_TIMEOUT_S * 1000;
  const seconds = /^\d{1,6}(\.\d{1,3})?$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(seconds > 0 && seconds <= MAX_TIMEOUT_S)) {
    throw new UsageError(
      `${TIMEOUT_VARIABLE} must be a number of seconds above 0 and at most ${MAX_TIMEOUT_S}, not ${JSON.stringify(text)}`,
      {
        hint: `e.g. ${TIMEOUT_VARIABLE}=10, or unset it for the default of ${DEFAULT_TIMEOUT_S} s`,
      },
    );
  }
  return Math.round(seconds * 1000);
}

/**
 * Returns true for a request that may change the store or a pending change: one that timed out or was cut short is
 * never sent again. Every other request only reads, and may be sent again.
 */
export function isWrite(request: Request): boolean {
  return (
    request.op === "add" ||
    request.op === "update" ||
    request.op === "rm" ||
    request.op === "rollback" ||
    request.op === "import" ||
    request.op === "approve" ||
    request.op === "reject" ||
    (request.op === "settings" && request.historyKeep !== undefined)
  );
}
