// The changes and lookups a command makes on a store document, shared by personal mode and the agent.
// Rules: errors name the secret and the store file, never a value; a missing name is NotFoundError (exit 3).

import { ExistsError, NotFoundError } from "../errors.js";
import type { Secret, StoreDocument } from "./document.js";
import { checkName } from "./names.js";

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
  const secret = doc.secrets[checkName(name)];
  if (secret === undefined) {
    throw new NotFoundError(`no secret named ${name} in ${file}`, { hint: "`secretfile ls` lists the names you can see" });
  }
  return secret;
}

/**
 * Sets `name` to `value` in `doc`, keeping `created` and the metadata not given when replacing.
 * Throws ExistsError (exit 1) if it exists and `replace` is not set.
 */
export function putSecret(doc: StoreDocument, name: string, value: string, opts: AddOptions, file: string): void {
  checkName(name);
  const old = doc.secrets[name];
  if (old !== undefined && !opts.replace) {
    throw new ExistsError(`${name} already exists in ${file}`, { hint: `use \`secretfile add ${name} --replace\` to change its value` });
  }
  const now = new Date().toISOString();
  const secret: Secret = { value, created: old?.created ?? now, updated: now };
  const description = opts.description ?? old?.description;
  const expires = opts.expires ?? old?.expires;
  const rotateEvery = opts.rotateEvery ?? old?.rotateEvery;
  if (description !== undefined) secret.description = description;
  if (expires !== undefined) secret.expires = expires;
  if (rotateEvery !== undefined) secret.rotateEvery = rotateEvery;
  doc.secrets[name] = secret;
}

/** Removes `name` from `doc`; throws NotFoundError (exit 3) when it is not there. */
export function removeSecret(doc: StoreDocument, name: string, file: string): void {
  getSecret(doc, name, file);
  delete doc.secrets[name];
}

/** Returns the values of `names` (all secrets when undefined); throws NotFoundError for a missing one. */
export function pickValues(doc: StoreDocument, names: string[] | undefined, file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of names ?? Object.keys(doc.secrets).sort()) out.set(name, getSecret(doc, name, file).value);
  return out;
}
