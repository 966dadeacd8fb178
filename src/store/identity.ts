// The host key: an age identity file, created once with its final mode and checked on every load.
// Rules: created by exclusive create, mode 0600 (0400 in system mode); loading refuses an unsafe file (exit 4).

import { CorruptError, NoStoreError } from "../errors.js";
import { generateIdentity, recipientOf } from "./crypto.js";
import { createExclusive, readPrivateFile } from "./files.js";

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
  await createExclusive(file, text, opts.mode ?? 0o600, "identity");
  return { file, secret, recipient };
}

/**
 * Loads the identity in `file` (the age-keygen format: comments and one AGE-SECRET-KEY line).
 * Throws AccessError (exit 4) for an unsafe file, CorruptError (exit 5) for an unreadable one,
 * NoStoreError (exit 1) when it does not exist.
 */
export async function loadIdentity(file: string): Promise<LoadedIdentity> {
  const bytes = await readPrivateFile(file, { what: "identity", forbiddenMode: 0o077, maxBytes: 64 * 1024 });
  if (bytes === null) {
    throw new NoStoreError(`no identity at ${file}`, { hint: "run `secretfile init` to create a personal store, or pass --dir" });
  }
  const text = bytes.toString("utf8");
  bytes.fill(0); // the key lives on only as a string (see SECURITY.md, Memory)
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
  return { file, secret, recipient: await recipientOf(secret, file) };
}
