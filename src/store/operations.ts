// The changes and lookups a command makes on a store document, shared by personal mode and the agent.
// Rules: errors name the secret and the store file, never a value; a missing name is NotFoundError (exit 3); a reserved
// name (reserved-names.ts) is never written (add, update, import, rollback), whoever asks (exit 2, nothing changed).

import { ExistsError, NotFoundError, UsageError } from "../errors.js";
import { entryOf, setEntry, type Secret, type StoreDocument } from "./document.js";
import { isRotateDays, MAX_ROTATE_DAYS } from "./expiry.js";
import {
  forgetHistory,
  recordReplacement,
  restoreVersion,
  versionsOf,
  type History,
  type Rollback,
} from "./history.js";
import { checkDescription, checkExpires, checkName } from "./names.js";
import { checkWritableName } from "./reserved-names.js";

/** What `add` may set besides the value. */
export interface AddOptions {
  replace?: boolean;
  description?: string;
  expires?: string;
  /** Days between rotations; kept from the old secret when not given. */
  rotateEvery?: number;
}

/** Returns the secret `name`; throws NotFoundError (exit 3) naming it and `file`. */
export function getSecret(doc: StoreDocument, name: string, file: string): Secret {
  const secret = entryOf(doc.secrets, checkName(name));
  if (secret === undefined) {
    throw new NotFoundError(`no secret named ${name} in ${file}`, {
      hint: "`secretfile ls` lists the names you can see",
    });
  }
  return secret;
}

/**
 * Sets `name` to `value` in `doc`, keeping `created` and the metadata not given when replacing; the value replaced
 * joins the secret's history (history.ts). Throws UsageError (exit 2) for a reserved name, ExistsError (exit 1) if it
 * exists and `replace` is not set.
 */
export function putSecret(doc: StoreDocument, name: string, value: string, opts: AddOptions, file: string): void {
  checkWritableName(checkName(name));
  const old = entryOf(doc.secrets, name);
  if (old !== undefined && !opts.replace) throw existsError(name, file);
  const now = new Date().toISOString();
  const secret: Secret = { value, created: old?.created ?? now, updated: now };
  const description = opts.description ?? old?.description;
  const expires = opts.expires ?? old?.expires;
  const rotateEvery = opts.rotateEvery ?? old?.rotateEvery;
  if (description !== undefined) secret.description = description;
  if (expires !== undefined) secret.expires = expires;
  if (rotateEvery !== undefined) secret.rotateEvery = rotateEvery;
  if (old !== undefined) recordReplacement(doc, name, old, now);
  setEntry(doc.secrets, name, secret);
}

/** What `update` changes, never a value: a field given is set, null clears it, a field absent is kept. */
export interface MetadataChange {
  /** One line of text; null or "" clears it. */
  description?: string | null;
  /** A day or an ISO time (checkExpires); null: it never expires. */
  expires?: string | null;
  /** Days between rotations; null: not rotated on a schedule. */
  rotateEvery?: number | null;
}

/**
 * Returns `change` checked and normalized for the secret `name` (an expiry as checkExpires writes it, an empty
 * description as null). Throws UsageError (exit 2) when it changes nothing or holds a bad description, date or period.
 */
export function checkMetadataChange(name: string, change: MetadataChange): MetadataChange {
  const { description, expires, rotateEvery } = change;
  if (description === undefined && expires === undefined && rotateEvery === undefined) {
    throw new UsageError(`nothing to change for ${name}`, {
      hint: `give --description TEXT, --expires DATE|never or --rotate-every PERIOD|never; the value changes only with \`secretfile add ${name} --replace\``,
    });
  }
  if (rotateEvery !== undefined && rotateEvery !== null && !isRotateDays(rotateEvery)) {
    throw new UsageError(`a rotation period is a whole number of days from 1 to ${MAX_ROTATE_DAYS}`, {
      hint: "use a number of days or weeks, such as 90d or 12w, or never",
    });
  }
  const out: MetadataChange = {};
  if (description !== undefined)
    out.description = description === null || description === "" ? null : checkDescription(description);
  if (expires !== undefined) out.expires = expires === null ? null : checkExpires(expires);
  if (rotateEvery !== undefined) out.rotateEvery = rotateEvery;
  return out;
}

/**
 * Changes the description, expiry or rotation period of `name` in `doc` as `change` says, never its value: `updated`
 * (which the rotation clock counts from) and its history stay as they are, since metadata is not a value. Throws
 * UsageError (exit 2) for a reserved name or a bad change, NotFoundError (exit 3) when `file` has no `name`.
 */
export function updateSecret(doc: StoreDocument, name: string, change: MetadataChange, file: string): void {
  checkWritableName(checkName(name));
  const checked = checkMetadataChange(name, change);
  const { description, expires, rotateEvery, ...kept } = getSecret(doc, name, file);
  const after = <T>(old: T | undefined, to: T | null | undefined) => (to === undefined ? old : (to ?? undefined));
  const secret: Secret = kept;
  const d = after(description, checked.description);
  const e = after(expires, checked.expires);
  const r = after(rotateEvery, checked.rotateEvery);
  if (d !== undefined) secret.description = d;
  if (e !== undefined) secret.expires = e;
  if (r !== undefined) secret.rotateEvery = r;
  setEntry(doc.secrets, name, secret);
}

/** Returns what `change` (as checkMetadataChange returns it) does, e.g. "expires 2027-03-31, description cleared". */
export function describeMetadataChange(change: MetadataChange): string {
  const parts: string[] = [];
  if (change.description !== undefined) parts.push(`description ${change.description === null ? "cleared" : "set"}`);
  if (change.expires !== undefined) parts.push(change.expires === null ? "no expiry" : `expires ${change.expires}`);
  if (change.rotateEvery !== undefined)
    parts.push(change.rotateEvery === null ? "no rotation period" : `rotation every ${change.rotateEvery} days`);
  return parts.join(", ");
}

/** Returns the ExistsError (exit 1) of an `add` without --replace of `name`, which `file` holds already. */
export function existsError(name: string, file: string): ExistsError {
  return new ExistsError(`${name} already exists in ${file}`, {
    hint: `use \`secretfile add ${name} --replace\` to change its value`,
  });
}

/** What an import did: the names added and the names replaced, each sorted. */
export interface ImportResult {
  added: string[];
  replaced: string[];
}

/**
 * Adds every secret of `secrets` to `doc` as `putSecret` does; the caller writes the result once, so an import is
 * all or nothing. Throws UsageError (exit 2) for a reserved name, before anything changes, and ExistsError (exit 1)
 * naming every name that exists when `replace` is not set.
 */
export function importSecrets(
  doc: StoreDocument,
  secrets: { name: string; value: string }[],
  replace: boolean,
  file: string,
): ImportResult {
  for (const s of secrets) checkWritableName(checkName(s.name));
  const existing = secrets.filter((s) => Object.hasOwn(doc.secrets, checkName(s.name))).map((s) => s.name);
  if (existing.length > 0 && !replace) {
    const shown =
      existing.length > 10
        ? `${existing.slice(0, 10).join(", ")} and ${existing.length - 10} more`
        : existing.join(", ");
    throw new ExistsError(
      `${shown} already ${existing.length === 1 ? "exists" : "exist"} in ${file}; nothing was imported`,
      {
        hint: "import again with --replace to replace them (their current values are kept in their history)",
      },
    );
  }
  for (const s of secrets) putSecret(doc, s.name, s.value, { replace }, file);
  const taken = new Set(existing);
  return {
    added: secrets
      .map((s) => s.name)
      .filter((n) => !taken.has(n))
      .sort(),
    replaced: existing.sort(),
  };
}

/** Returns the versions of `name`, current first, never a value; throws NotFoundError (exit 3) naming it and `file`. */
export function secretHistory(doc: StoreDocument, name: string, file: string): History {
  return versionsOf(doc, name, getSecret(doc, name, file));
}

/**
 * Makes version `to` of `name` (the newest earlier one when undefined) current again; the current value joins the
 * history, so a rollback can be undone (never of a reserved name: a store written before they were refused may hold
 * one). Throws NotFoundError (exit 3) or UsageError (exit 2), naming `name`.
 */
export function rollbackSecret(doc: StoreDocument, name: string, to: number | undefined, file: string): Rollback {
  checkWritableName(checkName(name));
  return restoreVersion(doc, name, getSecret(doc, name, file), to, file);
}

/** Removes `name` and its history from `doc`; throws NotFoundError (exit 3) when it is not there. */
export function removeSecret(doc: StoreDocument, name: string, file: string): void {
  getSecret(doc, name, file);
  // The document is a JSON record keyed by secret name: delete is how a key leaves it.
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- see above
  delete doc.secrets[name];
  forgetHistory(doc, name);
}

/** Returns the values of `names` (all secrets when undefined); throws NotFoundError for a missing one. */
export function pickValues(doc: StoreDocument, names: string[] | undefined, file: string): Map<string, string> {
  const out = new Map<string, string>();
  if (names !== undefined) for (const name of names) out.set(name, getSecret(doc, name, file).value);
  // Every secret: the document's own names, each checked as the document was read (parseDocument).
  else for (const name of Object.keys(doc.secrets).sort()) out.set(name, doc.secrets[name]!.value);
  return out;
}
