// A secret's earlier values: kept on every replacement, listed by version and date, restored by a rollback.
// Rules: at most the store's limit of earlier values per secret, newest first, the oldest dropped; a listing never
// holds a value; a rollback makes the current value history too, so it can itself be undone.

import { NotFoundError, UsageError } from "../errors.js";
import type { PastValue, Secret, StoreDocument } from "./document.js";

/** Earlier values kept per secret when the store does not say. */
export const DEFAULT_HISTORY_KEEP = 5;
/** The most earlier values a store may keep per secret. */
export const MAX_HISTORY_KEEP = 100;

/** One version of a secret as `history` shows it: never its value. */
export interface VersionInfo {
  version: number;
  /** When this value was stored (ISO 8601). */
  since: string;
  /** When it was replaced; absent for the current value. */
  replaced?: string;
  current: boolean;
  /** The version a rollback restored into this one. */
  restoredFrom?: number;
}

/** A secret's versions, newest (the current one) first, and how many earlier ones the store keeps. */
export interface History {
  versions: VersionInfo[];
  keep: number;
}

/** What a rollback did: `restored` is the version whose value is current again as the new `version`. */
export interface Rollback {
  restored: number;
  version: number;
}

/** Returns true when `keep` may be a store's history limit: a whole number from 0 to MAX_HISTORY_KEEP. */
export function isHistoryKeep(keep: unknown): keep is number {
  return typeof keep === "number" && Number.isInteger(keep) && keep >= 0 && keep <= MAX_HISTORY_KEEP;
}

/** Returns the history limit written `text` on the command line; throws UsageError (exit 2) for anything else. */
export function parseHistoryKeep(text: string): number {
  const keep = /^[0-9]{1,3}$/.test(text) ? Number(text) : NaN;
  if (!isHistoryKeep(keep)) {
    throw new UsageError(`invalid history limit ${JSON.stringify(text.slice(0, 40))}`, {
      hint: `give a whole number of earlier values to keep, from 0 (none) to ${MAX_HISTORY_KEEP}`,
    });
  }
  return keep;
}

/** Returns how many earlier values each secret of `doc` keeps. */
export function historyKeep(doc: StoreDocument): number {
  return doc.settings?.historyKeep ?? DEFAULT_HISTORY_KEEP;
}

/** Sets the history limit of `doc` and drops, from every secret, the earlier values beyond it. Throws UsageError. */
export function setHistoryKeep(doc: StoreDocument, keep: number): void {
  if (!isHistoryKeep(keep)) throw new UsageError(`the history limit must be a whole number from 0 to ${MAX_HISTORY_KEEP}`);
  doc.settings = { ...doc.settings, historyKeep: keep };
  for (const secret of Object.values(doc.secrets)) setHistory(secret, secret.history ?? [], keep);
}

/** Returns the version number of `secret`'s current value (1 for a store written before versions existed). */
export function versionOf(secret: Secret): number {
  return secret.version ?? 1;
}

/**
 * Makes `next` the secret that replaces `old` at `now`: one version more, with `old`'s value first in its history,
 * kept to `keep` earlier values.
 */
export function succeed(old: Secret, next: Secret, now: string, keep: number): void {
  const past: PastValue = { version: versionOf(old), value: old.value, since: old.updated, replaced: now };
  if (old.restoredFrom !== undefined) past.restoredFrom = old.restoredFrom;
  next.version = versionOf(old) + 1;
  setHistory(next, [past, ...(old.history ?? [])], keep);
}

/** Returns the versions of `secret`, current first, never a value; `keep` is its store's history limit. */
export function versionsOf(secret: Secret, keep: number): History {
  const current: VersionInfo = { version: versionOf(secret), since: secret.updated, current: true };
  if (secret.restoredFrom !== undefined) current.restoredFrom = secret.restoredFrom;
  const earlier = (secret.history ?? []).map(({ value: _value, ...meta }): VersionInfo => ({ ...meta, current: false }));
  return { versions: [current, ...earlier], keep };
}

/**
 * Returns the secret `name` (now `old`) with the value of its version `to` (the newest earlier one when undefined)
 * current again as a new version, the value it replaces joining the history (kept to `keep`). Throws NotFoundError
 * (exit 3) when that version is not kept in `file`, UsageError (exit 2) when `to` is the current version.
 */
export function restoreVersion(old: Secret, to: number | undefined, keep: number, name: string, file: string): { secret: Secret; rollback: Rollback } {
  const history = old.history ?? [];
  const hint = `\`secretfile history ${name}\` lists the versions kept`;
  if (to !== undefined && to === versionOf(old)) throw new UsageError(`version ${to} is already the current value of ${name}`, { hint });
  const past = to === undefined ? history[0] : history.find((p) => p.version === to);
  if (past === undefined) {
    const dropped = to !== undefined && history.length > 0 && to < history[history.length - 1]!.version;
    const what = to === undefined ? "no earlier value" : dropped ? `no version ${to} any more (only the ${history.length} newest earlier values are kept)` : `no version ${to}`;
    throw new NotFoundError(`${name} has ${what} in ${file}`, {
      hint: history.length === 0 ? `earlier values are kept from the next \`secretfile add ${name} --replace\` on` : hint,
    });
  }
  const now = new Date().toISOString();
  const secret: Secret = { ...old, value: past.value, updated: now, restoredFrom: past.version };
  succeed(old, secret, now, keep);
  return { secret, rollback: { restored: past.version, version: versionOf(secret) } };
}

function setHistory(secret: Secret, history: PastValue[], keep: number): void {
  if (keep > 0 && history.length > 0) secret.history = history.slice(0, keep);
  else delete secret.history;
}
