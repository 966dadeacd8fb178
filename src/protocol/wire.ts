// The agent's wire protocol (version 1): one JSON object per line each way, documented in docs/protocol.md.
// Rules: requests are validated before anything else is done; errors travel as a code the client maps back to its exit code.

import type { Accepted, StoreFacts } from "../store/generation.js";
import {
  AccessError,
  AgentUnreachableError,
  CorruptError,
  StaleStoreError,
  ExistsError,
  FailureError,
  NoStoreError,
  NotFoundError,
  PendingError,
  SecretfileError,
  UsageError,
} from "../errors.js";
import type { SecretInfo } from "../store/document.js";
import { isRotateDays, MAX_ROTATE_DAYS, type Attention } from "../store/expiry.js";
import { isHistoryKeep, MAX_HISTORY_KEEP, type Rollback, type VersionInfo } from "../store/history.js";
import { isValidName } from "../store/names.js";
import { isPendingId, type ApproveResult, type PendingInfo } from "./pending.js";

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;
/** The longest request line the agent reads, in bytes (a 64 KiB value, JSON-escaped, and room). */
export const MAX_REQUEST_BYTES = 512 * 1024;

/** A request, as the client sends it. */
export type Request =
  | { v: 1; op: "ping" }
  | { v: 1; op: "get"; name: string }
  | { v: 1; op: "list" }
  | { v: 1; op: "values"; names?: string[] }
  | {
      v: 1;
      op: "add";
      name: string;
      value: string;
      replace?: boolean;
      description?: string;
      expires?: string;
      rotateEvery?: number;
    }
  | {
      v: 1;
      op: "update";
      name: string;
      description?: string | null;
      expires?: string | null;
      rotateEvery?: number | null;
    }
  | { v: 1; op: "rm"; name: string }
  | { v: 1; op: "exists"; name: string }
  | { v: 1; op: "history"; name: string }
  | { v: 1; op: "rollback"; name: string; to?: number }
  | { v: 1; op: "import"; secrets: { name: string; value: string }[]; replace?: boolean }
  | { v: 1; op: "settings"; historyKeep?: number }
  | { v: 1; op: "pending" }
  | { v: 1; op: "approve"; id: string; force?: boolean }
  | { v: 1; op: "reject"; id: string }
  | { v: 1; op: "accept-store" };

/** A successful answer. */
export type Answer =
  | {
      ok: true;
      op: "ping";
      agent: string;
      version: number;
      /** The store served (absent: none yet), and why the one on disk is refused (absent: it is not). */
      store?: StoreFacts;
      refused?: string;
    }
  | { ok: true; op: "get"; value: string }
  | { ok: true; op: "list"; secrets: SecretInfo[] }
  | {
      ok: true;
      op: "values";
      values: Record<string, string>;
      expiring?: Record<string, Attention>;
      /** Asked for no names: the names a read rule gives the caller literally that the store does not hold. */
      missing?: string[];
    }
  | { ok: true; op: "add" | "update" | "rm" }
  | { ok: true; op: "exists"; exists: boolean; store: string }
  | { ok: true; op: "history"; versions: VersionInfo[]; keep: number }
  | ({ ok: true; op: "rollback" } & Rollback)
  | { ok: true; op: "import"; added: string[]; replaced: string[] }
  | { ok: true; op: "settings"; historyKeep: number }
  | { ok: true; op: "pending"; changes: PendingInfo[] }
  | ({ ok: true; op: "approve" } & ApproveResult)
  | { ok: true; op: "reject"; id: string }
  | ({ ok: true; op: "accept-store" } & Accepted);

/** A refusal or failure, carrying the error's code (and, for `busy`, how long to wait before trying again). */
export interface ErrorAnswer {
  ok: false;
  error: { code: string; message: string; hint?: string; retryAfterMs?: number };
}

/** The error code of an agent that refuses a request because its uid is over a limit: try again later. */
export const BUSY = "busy";

/**
 * Parses one request line. Returns the request, or throws UsageError describing what is wrong
 * (the agent answers it as an error and keeps serving).
 */
export function parseRequest(line: string): Request {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    throw new UsageError("the request is not a JSON object");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new UsageError("the request is not a JSON object");
  const r = data as Record<string, unknown>;
  if (r.v !== PROTOCOL_VERSION)
    throw new UsageError(`unsupported protocol version ${JSON.stringify(r.v)}; this agent speaks ${PROTOCOL_VERSION}`);
  const name = () => {
    if (typeof r.name !== "string" || !isValidName(r.name)) throw new UsageError('"name" must be a valid secret name');
    return r.name;
  };
  const optionalString = (key: string) => {
    if (r[key] !== undefined && typeof r[key] !== "string") throw new UsageError(`"${key}" must be a string`);
    return r[key];
  };
  switch (r.op) {
    case "ping":
    case "list":
    case "pending":
    case "accept-store":
      return { v: 1, op: r.op };
    case "approve":
    case "reject": {
      if (!isPendingId(r.id)) throw new UsageError('"id" must be a pending change\'s id (12 hex digits)');
      if (r.op === "reject") return { v: 1, op: "reject", id: r.id };
      if (r.force !== undefined && typeof r.force !== "boolean") throw new UsageError('"force" must be true or false');
      return { v: 1, op: "approve", id: r.id, force: r.force };
    }
    case "get":
    case "rm":
    case "exists":
    case "history":
      return { v: 1, op: r.op, name: name() };
    case "rollback": {
      if (r.to !== undefined && !(Number.isSafeInteger(r.to) && (r.to as number) >= 1))
        throw new UsageError('"to" must be a version number');
      return { v: 1, op: "rollback", name: name(), to: r.to as number | undefined };
    }
    case "import": {
      const secrets = r.secrets as { name: string; value: string }[];
      if (
        !Array.isArray(secrets) ||
        secrets.length > 10_000 ||
        !secrets.every(isNamedValue) ||
        new Set(secrets.map((s) => s.name)).size !== secrets.length
      ) {
        throw new UsageError('"secrets" must be a list of {"name", "value"}, each name once');
      }
      if (r.replace !== undefined && typeof r.replace !== "boolean")
        throw new UsageError('"replace" must be true or false');
      return {
        v: 1,
        op: "import",
        secrets: secrets.map((s) => ({ name: s.name, value: s.value })),
        replace: r.replace,
      };
    }
    case "settings": {
      if (r.historyKeep !== undefined && !isHistoryKeep(r.historyKeep))
        throw new UsageError(`"historyKeep" must be a whole number from 0 to ${MAX_HISTORY_KEEP}`);
      return { v: 1, op: "settings", historyKeep: r.historyKeep };
    }
    case "values": {
      if (r.names === undefined) return { v: 1, op: "values" };
      if (
        !Array.isArray(r.names) ||
        r.names.length > 10_000 ||
        !r.names.every((n) => typeof n === "string" && isValidName(n))
      ) {
        throw new UsageError('"names" must be a list of valid secret names');
      }
      return { v: 1, op: "values", names: r.names as string[] };
    }
    case "add": {
      if (typeof r.value !== "string") throw new UsageError('"value" must be a string');
      if (r.replace !== undefined && typeof r.replace !== "boolean")
        throw new UsageError('"replace" must be true or false');
      if (r.rotateEvery !== undefined && !isRotateDays(r.rotateEvery)) {
        throw new UsageError(`"rotateEvery" must be a whole number of days from 1 to ${MAX_ROTATE_DAYS}`);
      }
      return {
        v: 1,
        op: "add",
        name: name(),
        value: r.value,
        replace: r.replace,
        description: optionalString("description"),
        expires: optionalString("expires"),
        rotateEvery: r.rotateEvery,
      };
    }
    case "update": {
      // null clears a field; absent keeps it; at least one is given.
      const clearable = <T>(key: string, ok: (v: unknown) => v is T, what: string): T | null | undefined => {
        const v = r[key];
        if (v === undefined || v === null || ok(v)) return v;
        throw new UsageError(`"${key}" must be ${what}`);
      };
      const isString = (v: unknown): v is string => typeof v === "string";
      const req: Request = {
        v: 1,
        op: "update",
        name: name(),
        description: clearable("description", isString, "a string or null"),
        expires: clearable("expires", isString, "a string or null"),
        rotateEvery: clearable(
          "rotateEvery",
          isRotateDays,
          `a whole number of days from 1 to ${MAX_ROTATE_DAYS}, or null`,
        ),
      };
      if (req.description === undefined && req.expires === undefined && req.rotateEvery === undefined)
        throw new UsageError('"update" needs at least one of "description", "expires" and "rotateEvery"');
      return req;
    }
    default:
      throw new UsageError(`unknown operation ${JSON.stringify(r.op)}`);
  }
}

function isNamedValue(s: unknown): s is { name: string; value: string } {
  if (typeof s !== "object" || s === null) return false;
  const { name, value } = s as Record<string, unknown>;
  return typeof name === "string" && isValidName(name) && typeof value === "string";
}

/** Returns the wire form of an error. Only SecretfileErrors keep their message; others become a generic failure. */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof SecretfileError)
    return { ok: false, error: { code: err.code, message: err.message, hint: err.hint } };
  return { ok: false, error: { code: "failure", message: "the agent failed to answer (see its log)" } };
}

/** Returns the `busy` answer: `message` says which limit, `retryAfterMs` when a retry can succeed. */
export function busyAnswer(message: string, retryAfterMs: number): ErrorAnswer {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return {
    ok: false,
    error: { code: BUSY, message, hint: `retry in ${ms} ms or more; other uids are not affected`, retryAfterMs: ms },
  };
}

const byCode: Record<string, new (message: string, details?: { hint?: string }) => SecretfileError> = {
  usage: UsageError,
  "not-found": NotFoundError,
  denied: AccessError,
  undecryptable: CorruptError,
  "stale-store": StaleStoreError,
  "agent-unreachable": AgentUnreachableError,
  "no-store": NoStoreError,
  exists: ExistsError,
  pending: PendingError,
};

/** Rebuilds the typed error an agent sent, so the CLI exits with the same code. */
export function errorFromAnswer(answer: ErrorAnswer): SecretfileError {
  const Kind = byCode[answer.error.code] ?? FailureError;
  return new Kind(answer.error.message, { hint: answer.error.hint });
}
