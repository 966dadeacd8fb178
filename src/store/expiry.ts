// When a secret needs attention: "expired" once its expiry date has come, "due" once it is older than its rotation period.
// Rules: pure (the time is always passed in); a date without a time means 00:00 UTC that day; expired wins over due.

import { UsageError } from "../errors.js";

/** A secret's state: fine, due for rotation, or past its expiry date. */
export type Status = "ok" | "due" | "expired";

/** The metadata the status depends on (a Secret and a SecretInfo both have it). */
export interface ExpiryMeta {
  updated: string;
  expires?: string;
  /** Days between rotations: due when `updated` + this many days has come. */
  rotateEvery?: number;
}

/** A secret that needs attention, and since when (an ISO date or time). */
export interface Attention {
  status: "due" | "expired";
  since: string;
}

/** The longest rotation period the store accepts, in days (100 years). */
export const MAX_ROTATE_DAYS = 36_500;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Returns true when `days` may be stored as `rotateEvery`: a whole number of days from 1 to MAX_ROTATE_DAYS. */
export function isRotateDays(days: unknown): days is number {
  return typeof days === "number" && Number.isInteger(days) && days >= 1 && days <= MAX_ROTATE_DAYS;
}

/** Returns the days in a rotation period written `Nd` (days) or `Nw` (weeks); throws UsageError (exit 2) for anything else. */
export function parseRotateEvery(text: string): number {
  const m = /^([1-9][0-9]{0,5})([dw])$/.exec(text);
  const days = m === null ? NaN : Number(m[1]) * (m[2] === "w" ? 7 : 1);
  if (!isRotateDays(days)) {
    throw new UsageError(`invalid rotation period ${JSON.stringify(text.slice(0, 40))}`, {
      hint: `use a number of days or weeks, such as 90d or 12w (at most ${MAX_ROTATE_DAYS} days)`,
    });
  }
  return days;
}

/** Returns what needs attention about `meta` at `now`, or undefined when it is fine. Unparsable dates count as absent. */
export function attention(meta: ExpiryMeta, now: Date): Attention | undefined {
  const at = now.getTime();
  if (meta.expires !== undefined && Date.parse(meta.expires) <= at) return { status: "expired", since: meta.expires };
  if (meta.rotateEvery !== undefined) {
    const due = Date.parse(meta.updated) + meta.rotateEvery * DAY_MS;
    if (due <= at) return { status: "due", since: new Date(due).toISOString() };
  }
  return undefined;
}

/** Returns the status of `meta` at `now`: "expired", "due" or "ok". */
export function status(meta: ExpiryMeta, now: Date): Status {
  return attention(meta, now)?.status ?? "ok";
}

/** Returns the names among `names` that need attention at `now`, with why; names missing from `secrets` are skipped. */
export function attentionOf(
  secrets: Record<string, ExpiryMeta>,
  names: Iterable<string>,
  now: Date,
): Record<string, Attention> {
  const out: Record<string, Attention> = {};
  for (const name of names) {
    const meta = Object.hasOwn(secrets, name) ? secrets[name] : undefined;
    const found = meta === undefined ? undefined : attention(meta, now);
    if (found !== undefined) out[name] = found;
  }
  return out;
}

/** Returns the one-line warning `exec` prints for `name`, e.g. "MERAKI_API_KEY expired on 2026-01-01". */
export function describeAttention(name: string, a: Attention): string {
  const day = a.since.slice(0, 10);
  return a.status === "expired" ? `${name} expired on ${day}` : `${name} is due for rotation since ${day}`;
}
