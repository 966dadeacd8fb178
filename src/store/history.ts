// A secret's earlier values: kept on every replacement, listed by version and date, restored by a rollback.
// Rules: at most the store's limit of earlier values per secret, newest first, the oldest dropped; a listing never
// holds a value; a rollback makes the current value history too, so it can itself be undone. Callers check that the
// secret exists (operations.ts): these functions take it as found.

import { NotFoundError, UsageError } from "../errors.js";
import { entryOf, setEntry, type PastValue, type Secret, type SecretHistory, type StoreDocument } from "./document.js";

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
  if (!isHistoryKeep(keep))
    throw new UsageError(`the history limit must be a whole number from 0 to ${MAX_HISTORY_KEEP}`);
  doc.settings = { ...doc.settings, historyKeep: keep };
  for (const record of Object.values(doc.history ?? {})) setEarlier(record, record.earlier ?? [], keep);
}

/**
 * Records that the secret `name`, now `old`, is being replaced at `now`: its version goes up by one and `old`'s value
 * becomes its newest earlier value (kept to the store's limit). Returns the new record.
 */
export function recordReplacement(doc: StoreDocument, name: string, old: Secret, now: string): SecretHistory {
  const before = entryOf(doc.history, name);
  const past: PastValue = { version: before?.version ?? 1, value: old.value, since: old.updated, replaced: now };
  if (before?.restoredFrom !== undefined) past.restoredFrom = before.restoredFrom;
  const record: SecretHistory = { version: past.version + 1 };
  setEarlier(record, [past, ...(before?.earlier ?? [])], historyKeep(doc));
  doc.history ??= {};
  setEntry(doc.history, name, record);
  return record;
}

/** Drops every earlier value and the version count of `name` (when it is removed). */
export function forgetHistory(doc: StoreDocument, name: string): void {
  if (entryOf(doc.history, name) === undefined) return;
  // The document is a JSON record keyed by secret name: delete is how a key leaves it.
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- see above
  delete doc.history![name];
  if (Object.keys(doc.history!).length === 0) delete doc.history;
}

/** Returns the versions of the secret `name` (which is `secret`), current first, never a value. */
export function versionsOf(doc: StoreDocument, name: string, secret: Secret): History {
  const record = entryOf(doc.history, name);
  const current: VersionInfo = { version: record?.version ?? 1, since: secret.updated, current: true };
  if (record?.restoredFrom !== undefined) current.restoredFrom = record.restoredFrom;
  const earlier = (record?.earlier ?? []).map(({ value: _value, ...meta }): VersionInfo => ({
    ...meta,
    current: false,
  }));
  return { versions: [current, ...earlier], keep: historyKeep(doc) };
}

/**
 * Makes the value of version `to` (the newest earlier one when undefined) of the secret `name` (which is `old`)
 * current again as a new version; the value it replaces joins the history. Throws NotFoundError (exit 3) when that
 * version is not kept in `file`, UsageError (exit 2) when `to` is the current version.
 */
export function restoreVersion(
  doc: StoreDocument,
  name: string,
  old: Secret,
  to: number | undefined,
  file: string,
): Rollback {
  const record = entryOf(doc.history, name);
  const earlier = record?.earlier ?? [];
  const hint = `\`secretfile history ${name}\` lists the versions kept`;
  if (to !== undefined && to === (record?.version ?? 1))
    throw new UsageError(`version ${to} is already the current value of ${name}`, { hint });
  const past = to === undefined ? earlier[0] : earlier.find((p) => p.version === to);
  if (past === undefined) {
    const dropped = to !== undefined && earlier.length > 0 && to < earlier[earlier.length - 1]!.version;
    const what =
      to === undefined
        ? "no earlier value"
        : dropped
          ? `no version ${to} any more (only the ${earlier.length} newest earlier values are kept)`
          : `no version ${to}`;
    throw new NotFoundError(`${name} has ${what} in ${file}`, {
      hint:
        earlier.length === 0 ? `earlier values are kept from the next \`secretfile add ${name} --replace\` on` : hint,
    });
  }
  const now = new Date().toISOString();
  const next = recordReplacement(doc, name, old, now);
  next.restoredFrom = past.version;
  setEntry(doc.secrets, name, { ...old, value: past.value, updated: now });
  return { restored: past.version, version: next.version };
}

function setEarlier(record: SecretHistory, earlier: PastValue[], keep: number): void {
  if (keep > 0 && earlier.length > 0) record.earlier = earlier.slice(0, keep);
  else delete record.earlier;
}
