// The host key: an age identity file, created once with its final mode and checked on every load.
// Rules: created by exclusive create, mode 0600 (0400 in system mode); loading refuses an unsafe file (exit 4).

import { CorruptError, NoStoreError, SecretfileError } from "../errors.js";
import { generateIdentity, recipientOf } from "./crypto.js";
import { createExclusive, readPrivateFile } from "./files.js";

/**
 * A sealed identity is the file systemd decrypted into $CREDENTIALS_DIRECTORY: 0400 and ours, or root's with an ACL
 * that lets us read it (stat then shows the ACL mask as group read), on a read-only mount.
 */
const SEALED_RULES = { what: "sealed identity", forbiddenMode: 0o027, maxBytes: 64 * 1024, rootMayOwn: true };

/**
 * The mode of an identity file, the one rule every part uses (creation, load hints, setup, doctor, docs): 0600 for a
 * personal store, 0400 for the agent's (system mode: the service account only reads it). Loading accepts either.
 */
export const IDENTITY_MODE = { personal: 0o600, system: 0o400 } as const;

/** A loaded identity: the secret key string and its public recipient. */
export interface LoadedIdentity {
  file: string;
  secret: string;
  recipient: string;
}

/** Creates a new identity file in the age-keygen format; returns it loaded. Throws if the file exists. */
export async function createIdentity(file: string, opts: { pq: boolean; mode?: number }): Promise<LoadedIdentity> {
  const secret = await generateIdentity(opts.pq);
  const recipient = await recipientOf(secret, file);
  const text = `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${secret}\n`;
  await createExclusive(file, text, opts.mode ?? IDENTITY_MODE.personal, "identity");
  return { file, secret, recipient };
}

/**
 * Loads the identity in `file` (the age-keygen format: comments and one AGE-SECRET-KEY line).
 * Throws AccessError (exit 4) for an unsafe file, CorruptError (exit 5) for an unreadable one,
 * NoStoreError (exit 1) when it does not exist.
 */
export async function loadIdentity(file: string, opts: IdentityOptions = {}): Promise<LoadedIdentity> {
  const bytes = await readPrivateFile(
    file,
    opts.sealed === true
      ? SEALED_RULES
      : { what: "identity", forbiddenMode: 0o077, maxBytes: 64 * 1024, mode: opts.mode ?? IDENTITY_MODE.personal },
  );
  if (bytes === null) {
    throw new NoStoreError(`no identity at ${file}`, {
      hint: "run `secretfile init` to create a personal store, or pass --dir",
    });
  }
  const text = bytes.toString("utf8");
  bytes.fill(0); // the key lives on only as a string (see SECURITY.md, Memory)
  return parseIdentity(text, file, opts.known);
}

/** How to load an identity file. */
export interface IdentityOptions {
  /** The file is a sealed identity from $CREDENTIALS_DIRECTORY (root may own it). */
  sealed?: boolean;
  /** The mode a hint asks for (IDENTITY_MODE.personal unless given). */
  mode?: number;
  /** An identity already loaded: returned as it is when the file holds the same key (no recipient computed again). */
  known?: LoadedIdentity;
}

/**
 * Parses the text of an identity file read from `file` (the age-keygen format: comments and one AGE-SECRET-KEY line).
 * Throws CorruptError (exit 5) when it does not hold exactly one age identity.
 */
export async function parseIdentity(text: string, file: string, known?: LoadedIdentity): Promise<LoadedIdentity> {
  const keys = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const secret = keys[0];
  if (keys.length !== 1 || secret === undefined || !secret.startsWith("AGE-SECRET-KEY-")) {
    throw new CorruptError(`the identity file ${file} does not hold exactly one age identity`, {
      hint: "restore it from a backup; without it the store cannot be decrypted",
    });
  }
  if (known !== undefined && known.secret === secret && known.file === file) return known;
  return { file, secret, recipient: await recipientOf(secret, file) };
}

/** Returns the identity in `file`, or null when there is none; throws as loadIdentity does for an unsafe or bad file. */
export async function loadIdentityIfPresent(file: string, opts: IdentityOptions = {}): Promise<LoadedIdentity | null> {
  try {
    return await loadIdentity(file, opts);
  } catch (err) {
    if (err instanceof NoStoreError) return null;
    throw err;
  }
}

/** The files a rekey keeps beside `identity.txt`: the new identity before it takes the place, the old one after. */
export function rekeyFiles(identity: string): { next: string; old: string } {
  return { next: `${identity}.new`, old: `${identity}.old` };
}

/**
 * Returns the identities a rekey keeps beside `identity` (`.new`, `.old`) that load; one that is missing, unsafe or
 * damaged is left out (the store is always encrypted to `identity` itself as well).
 */
export async function rekeyIdentities(
  identity: string,
  which: readonly ("next" | "old")[] = ["next", "old"],
): Promise<LoadedIdentity[]> {
  const files = rekeyFiles(identity);
  const out: LoadedIdentity[] = [];
  for (const key of which) {
    const loaded = await loadIdentityIfPresent(files[key]).catch((err: unknown) => {
      if (err instanceof SecretfileError) return null;
      throw err;
    });
    if (loaded !== null) out.push(loaded);
  }
  return out;
}
