// The store's plaintext: a versioned JSON document of secrets and their metadata.
// Rules: parsing is strict (unknown format or version is an error, never a guess); values never appear in errors.

import { CorruptError } from "../errors.js";
import { isRotateDays } from "./expiry.js";
import { isValidName } from "./names.js";
import { isRecipientList, type RecipientEntry } from "./recipient-entry.js";

/** The format tag every store document carries. */
export const FORMAT = "secretfile-store";
/**
 * The document version this build writes. Version 2 added the generation: a secretfile that reads only version 1
 * refuses a version 2 store (exit 5, "upgrade secretfile") rather than drop the generation when it writes.
 */
export const VERSION = 2;
/** The versions this build reads: version 1 is a store written before generations, read as generation 0. */
const READABLE_VERSIONS: readonly number[] = [1, 2];

/** One secret: its value and metadata. Dates are ISO 8601 strings. */
export interface Secret {
  value: string;
  created: string;
  updated: string;
  description?: string;
  expires?: string;
  /** Days between rotations (see expiry.ts); absent when the secret is not rotated on a schedule. */
  rotateEvery?: number;
}

/**
 * A secret's versions beyond the first: its current version number and its earlier values. Kept beside `secrets`, not
 * in them, so that a secretfile from before history (which drops unknown top-level fields and lists every field of a
 * secret but its value) never shows an earlier value and forgets the history when it writes (docs/history.md).
 */
export interface SecretHistory {
  /** The current value's version: 1 for the first, one more at each replacement or rollback. */
  version: number;
  /** Set by a rollback: the version whose value the current one restored. */
  restoredFrom?: number;
  /** Earlier values, newest first, at most the store's history limit; absent when none are kept. */
  earlier?: PastValue[];
}

/** An earlier value of a secret: what it was, from when (`since`) until when (`replaced`), ISO 8601. */
export interface PastValue {
  version: number;
  value: string;
  since: string;
  replaced: string;
  restoredFrom?: number;
}

/** Settings of the whole store; each absent one has its default. */
export interface StoreSettings {
  /** How many earlier values each secret keeps (history.ts: DEFAULT_HISTORY_KEEP when absent). */
  historyKeep?: number;
}

/**
 * The whole plaintext document. Version 1 grew two optional fields, `history` (by secret name; a secret without an
 * entry is at version 1 with no earlier value) and `settings`: a store written before them opens unchanged.
 */
export interface StoreDocument {
  format: typeof FORMAT;
  /** 1 until the document's first write by this build, which raises the generation and makes it VERSION. */
  version: typeof VERSION | 1;
  /** Raised by every write (generation.ts); absent (0) in a store written before generations. */
  generation?: number;
  /** Who wrote this generation (the recipient of the writing identity) and when (ISO 8601). */
  written?: { by: string; at: string };
  secrets: Record<string, Secret>;
  history?: Record<string, SecretHistory>;
  settings?: StoreSettings;
  /** Extra recipients the store is encrypted to besides the host identity (recipients.ts); absent when none. */
  recipients?: RecipientEntry[];
}

/** Metadata of one secret, without its value: what `ls` shows. */
export interface SecretInfo {
  name: string;
  created: string;
  updated: string;
  description?: string;
  expires?: string;
  rotateEvery?: number;
  /** System mode only: the agent's last release of this secret (see src/audit/last-read.ts); absent when none is known. */
  lastRead?: LastRead;
}

/** A secret's last release by the agent: when (ISO 8601, UTC), to which uid, and its user name when it has one. */
export interface LastRead {
  time: string;
  uid: number;
  user?: string;
}

/**
 * Returns the entry `name` of `record` when it is its own, else undefined. Names such as `__proto__` and
 * `constructor` are valid secret names: a plain lookup would find Object.prototype's instead.
 */
export function entryOf<T>(record: Record<string, T> | undefined, name: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, name) ? record[name] : undefined;
}

/** Sets the entry `name` of `record` as its own property (an assignment to `__proto__` would change its prototype). */
export function setEntry<T>(record: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
}

/** Returns `record` with no prototype, so that only its own entries are found in it (a parsed object's own keys). */
function withoutPrototype<T>(record: Record<string, T>): Record<string, T> {
  return Object.setPrototypeOf(record, null) as Record<string, T>;
}

/** Returns a new, empty document, at generation 0 (version 1) until a write raises it (generation.ts). */
export function emptyDocument(): StoreDocument {
  return { format: FORMAT, version: 1, secrets: {} };
}

/** Serializes a document to the bytes that get encrypted. */
export function serializeDocument(doc: StoreDocument): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc));
}

/**
 * Parses and validates decrypted bytes from `file`.
 * Throws CorruptError (exit 5) for anything that is not a store document of a known version.
 */
export function parseDocument(bytes: Uint8Array, file: string): StoreDocument {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw corrupt(file, "its plaintext is not a JSON document", cause);
  }
  if (!isObject(data) || data.format !== FORMAT) {
    throw corrupt(file, `its plaintext is not a secretfile store (no "format": "${FORMAT}")`);
  }
  if (typeof data.version !== "number" || !READABLE_VERSIONS.includes(data.version)) {
    throw new CorruptError(
      `${file} has store version ${JSON.stringify(data.version)}; this secretfile reads versions ${READABLE_VERSIONS.join(" and ")}`,
      {
        hint: "upgrade secretfile to read it, or restore the store from a backup",
      },
    );
  }
  if (!isObject(data.secrets)) throw corrupt(file, 'it has no "secrets" object');
  // JSON.parse makes every key an own property (`__proto__` too), so the parsed objects are kept, checked in place,
  // and given no prototype: copying 10,000 entries one by one cost a large store's every read about 15 ms.
  const secrets = data.secrets;
  for (const name in secrets) {
    if (!isValidName(name)) throw corrupt(file, `it holds an invalid secret name ${JSON.stringify(name.slice(0, 40))}`);
    if (!isSecret(secrets[name])) throw corrupt(file, `the entry for ${name} is malformed`);
  }
  const doc: StoreDocument = {
    format: FORMAT,
    version: data.version === 1 ? 1 : VERSION,
    secrets: withoutPrototype(secrets as Record<string, Secret>),
  };
  if (data.version !== 1) {
    if (!Number.isSafeInteger(data.generation) || (data.generation as number) < 1)
      throw corrupt(file, 'its "generation" is missing or not a whole number above 0');
    if (!isObject(data.written) || typeof data.written.by !== "string" || typeof data.written.at !== "string")
      throw corrupt(file, 'its "written" (who wrote the generation, and when) is missing or malformed');
    doc.generation = data.generation as number;
    doc.written = { by: data.written.by, at: data.written.at };
  }
  if (data.history !== undefined) {
    if (!isObject(data.history)) throw corrupt(file, 'its "history" is not an object');
    const history = data.history;
    for (const name in history) {
      if (!Object.hasOwn(secrets, name))
        throw corrupt(file, `it holds history for ${JSON.stringify(name.slice(0, 40))}, which is not a secret in it`);
      if (!isSecretHistory(history[name])) throw corrupt(file, `the history of ${name} is malformed`);
    }
    doc.history = withoutPrototype(history as Record<string, SecretHistory>);
  }
  if (data.settings !== undefined) {
    if (!isSettings(data.settings)) throw corrupt(file, 'its "settings" are malformed');
    doc.settings = data.settings;
  }
  if (data.recipients !== undefined) {
    if (!isRecipientList(data.recipients)) throw corrupt(file, 'its "recipients" list is malformed');
    doc.recipients = data.recipients;
  }
  return doc;
}

/** Returns the metadata of every secret, sorted by name. */
export function listSecrets(doc: StoreDocument): SecretInfo[] {
  return Object.keys(doc.secrets)
    .sort()
    .map((name) => {
      const { created, updated, description, expires, rotateEvery } = doc.secrets[name]!;
      const info: SecretInfo = { name, created, updated };
      if (description !== undefined) info.description = description;
      if (expires !== undefined) info.expires = expires;
      if (rotateEvery !== undefined) info.rotateEvery = rotateEvery;
      return info;
    });
}

function isSecret(s: unknown): s is Secret {
  return (
    isObject(s) &&
    typeof s.value === "string" &&
    typeof s.created === "string" &&
    typeof s.updated === "string" &&
    (s.description === undefined || typeof s.description === "string") &&
    (s.expires === undefined || typeof s.expires === "string") &&
    (s.rotateEvery === undefined || isRotateDays(s.rotateEvery))
  );
}

function isSecretHistory(h: unknown): h is SecretHistory {
  return (
    isObject(h) &&
    isVersion(h.version) &&
    (h.restoredFrom === undefined || isVersion(h.restoredFrom)) &&
    (h.earlier === undefined || (Array.isArray(h.earlier) && h.earlier.every(isPastValue)))
  );
}

function isPastValue(p: unknown): p is PastValue {
  return (
    isObject(p) &&
    isVersion(p.version) &&
    typeof p.value === "string" &&
    typeof p.since === "string" &&
    typeof p.replaced === "string" &&
    (p.restoredFrom === undefined || isVersion(p.restoredFrom))
  );
}

function isSettings(s: unknown): s is StoreSettings {
  return (
    isObject(s) && (s.historyKeep === undefined || (Number.isInteger(s.historyKeep) && (s.historyKeep as number) >= 0))
  );
}

function isVersion(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 1;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function corrupt(file: string, what: string, cause?: unknown): CorruptError {
  return new CorruptError(`${file} is damaged: ${what}`, { hint: "restore the store from a backup", cause });
}
