// The one place secretfile calls the age library (typage): encrypt to recipients, decrypt with an identity.
// Rules: typage's errors are wrapped in our typed errors with the original as cause; we never branch on its message text.

import { Decrypter, Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import type { Identity, Stanza } from "age-encryption";
import { CorruptError, UsageError } from "../errors.js";
import { decryptPayload, headerLength } from "./payload.js";

/** Returns a new age identity string: X25519, or the hybrid post-quantum kind when `pq` is set. */
export async function generateIdentity(pq: boolean): Promise<string> {
  return pq ? generateHybridIdentity() : generateX25519Identity();
}

/** Returns the public recipient (`age1…`) of an identity string. Throws CorruptError if it is not one. */
export async function recipientOf(identity: string, file: string): Promise<string> {
  try {
    return await identityToRecipient(identity);
  } catch (cause) {
    throw new CorruptError(`the identity file ${file} does not hold a valid age identity`, {
      hint: "restore it from a backup; without it the store cannot be decrypted",
      cause,
    });
  }
}

/** Returns `recipient` when age accepts it as a public key; throws UsageError (exit 2) otherwise. */
export function checkRecipient(recipient: string): string {
  try {
    if (!recipient.startsWith("age1")) throw new Error("not an age1 recipient");
    new Encrypter().addRecipient(recipient);
  } catch (cause) {
    throw new UsageError(`${JSON.stringify(recipient.slice(0, 100))} is not an age public key`, {
      hint: "give the age1… line that `secretfile recipient` or `age-keygen -y IDENTITY` prints",
      cause,
    });
  }
  return recipient;
}

/** Encrypts `plaintext` to every recipient. */
export async function encrypt(plaintext: Uint8Array, recipients: string[]): Promise<Uint8Array> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(plaintext);
}

/** Exit 5: the store is not encrypted to the identity tried (another identity may open it). */
export class NotForThisIdentityError extends CorruptError {}

/**
 * Decrypts `ciphertext` read from `file` with `identity`; the caller owns the plaintext and zeroes it after use.
 * Throws NotForThisIdentityError (exit 5) for a file not encrypted to this identity, CorruptError (5) for a damaged one.
 */
export async function decrypt(ciphertext: Uint8Array, identity: string, file: string): Promise<Uint8Array> {
  const d = new Decrypter();
  try {
    d.addIdentity(identity);
  } catch (cause) {
    throw new CorruptError(`the identity for ${file} is not a valid age identity`, { hint: "restore it from a backup", cause });
  }
  // Tried after the real identity, so it is only asked when that one matched no recipient.
  const noMatch: Identity & { asked: boolean } = {
    asked: false,
    unwrapFileKey(_stanzas: Stanza[]) {
      this.asked = true;
      return null;
    },
  };
  d.addIdentity(noMatch);
  try {
    // typage checks the header and unwraps the file key; the payload, the part that grows with the store, is
    // decrypted natively (payload.ts).
    const length = headerLength(ciphertext);
    if (length === -1) throw new Error("no header MAC line");
    const fileKey = await d.decryptHeader(ciphertext.subarray(0, length));
    try {
      return decryptPayload(fileKey, ciphertext.subarray(length));
    } finally {
      fileKey.fill(0);
    }
  } catch (cause) {
    if (noMatch.asked) {
      throw new NotForThisIdentityError(`${file} is not encrypted to this identity (or its header is damaged)`, {
        hint: "use the identity the store was made with (--dir), or restore the store from a backup",
        cause,
      });
    }
    throw new CorruptError(`${file} is damaged, truncated or not an age file`, { hint: "restore the store from a backup", cause });
  }
}
