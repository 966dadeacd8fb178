// The limits that keep one client, or one uid, from hurting the others; defaults, and SECRETFILE_AGENT_LIMITS.
// Rules: every limit has a default sized for hundreds of cron jobs of one user at once; an override that is not a
// known key with a positive whole number is a usage error at start (the agent never runs on a half-read setting).

import { UsageError } from "../errors.js";
import { MAX_REQUEST_BYTES } from "../protocol/wire.js";

/** The limits that keep one client from hurting the others. */
export interface Limits {
  /** Largest request line, bytes. */
  maxRequestBytes: number;
  /** A connection silent this long (or with a request unfinished this long) is dropped, ms. */
  idleMs: number;
  /** Connections open at once, all callers together. */
  maxConnections: number;
  /** Connections open at once for one uid. */
  maxConnectionsPerUid: number;
  /** Requests one uid may make per second, on average (a token bucket refilled at this rate). */
  ratePerUid: number;
  /** Requests one uid may make at once before the rate applies (the bucket's size). */
  burstPerUid: number;
  /** Bytes of audit lines one uid may have written per minute (and at once); past it, it is answered `busy`. */
  auditBytesPerUid: number;
  /** Pending changes (held for approval) kept at once, all requesters together. */
  maxPending: number;
  /** Pending changes kept at once for one requester uid. */
  maxPendingPerUid: number;
  /** Bytes of pending changes on disk, all requesters together. */
  maxPendingBytes: number;
  /** Bytes of pending changes on disk for one requester uid. */
  maxPendingBytesPerUid: number;
}

/** Defaults sized for hundreds of jobs of one user starting in the same second. */
export const DEFAULT_LIMITS: Limits = {
  maxRequestBytes: MAX_REQUEST_BYTES,
  idleMs: 10_000,
  maxConnections: 4096,
  maxConnectionsPerUid: 1024,
  ratePerUid: 2000,
  burstPerUid: 4000,
  // Some 50,000 lines a minute: a burst of 4,000 cron jobs is a few MiB; a caller no rule names is held to this.
  auditBytesPerUid: 16 * 1024 * 1024,
  // Changes wait for a person: a few an admin at a time is the use. A requester may hold 32 (16 imports of a full
  // request line), and a handful of requesters at their limit still leave the agent's disk and memory small.
  maxPending: 256,
  maxPendingPerUid: 32,
  maxPendingBytes: 64 * 1024 * 1024,
  maxPendingBytesPerUid: 8 * 1024 * 1024,
};

/** The environment variable that overrides limits, e.g. `ratePerUid=50,burstPerUid=100`. */
export const LIMITS_VARIABLE = "SECRETFILE_AGENT_LIMITS";

const KEYS: Record<string, keyof Limits> = {
  requestBytes: "maxRequestBytes",
  idleMs: "idleMs",
  connections: "maxConnections",
  connectionsPerUid: "maxConnectionsPerUid",
  ratePerUid: "ratePerUid",
  burstPerUid: "burstPerUid",
  auditBytesPerUid: "auditBytesPerUid",
  pending: "maxPending",
  pendingPerUid: "maxPendingPerUid",
  pendingBytes: "maxPendingBytes",
  pendingBytesPerUid: "maxPendingBytesPerUid",
};

/**
 * Returns the limits that `text` (`key=value,…`, keys as in docs/protocol.md) sets; empty or undefined sets none.
 * Throws UsageError (2) for an unknown key or a value that is not a whole number from 1 to 10^9.
 */
export function parseLimits(text: string | undefined): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const part of (text ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const [key = "", value = ""] = part.split("=", 2).map((s) => s.trim());
    const field = KEYS[key];
    if (field === undefined) {
      throw new UsageError(`${LIMITS_VARIABLE}: unknown limit ${JSON.stringify(key)}`, {
        hint: `known: ${Object.keys(KEYS).join(", ")}`,
      });
    }
    if (!/^\d{1,10}$/.test(value) || Number(value) < 1 || Number(value) > 1e9) {
      throw new UsageError(
        `${LIMITS_VARIABLE}: ${key} must be a whole number from 1 to 1000000000, not ${JSON.stringify(value)}`,
      );
    }
    out[field] = Number(value);
  }
  return out;
}
