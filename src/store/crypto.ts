// The one place secretfile calls the age library (typage), and where it decides what Node's own crypto does instead:
// a store read with an X25519 identity is decrypted natively, and a store whose recipients are all X25519 is encrypted
// natively, and an X25519 key is made natively (x25519.ts), so typage is loaded only for a post-quantum identity or
// recipient, to read an armored file (`age -a`), or to report why a file did not decrypt.
// Rules: typage is imported on first use (`await import`), never at start; its errors are wrapped in our typed errors
// with the original as cause; we never branch on its message text.

import { CorruptError, UsageError } from "../errors.js";
import { bech32Decode } from "./bech32.js";
import { decryptPayload, headerLength, NONCE_BYTES } from "./payload.js";
import {
  decryptX25519,
  encryptX25519,
  isX25519Identity,
  newX25519Identity,
  UnusableRecipientError,
  x25519Recipient,
} from "./x25519.js";

type Typage = typeof import("age-encryption");

/** Returns typage, loading it the first time (its start-up is costly, bench/limits.md: a read never asks). */
function typage(): Promise<Typage> {
  return import("age-encryption");
}

/** Returns a new age identity string: X25519 (natively), or the hybrid post-quantum kind (typage) when `pq` is set. */
export async function generateIdentity(pq: boolean): Promise<string> {
  return pq ? (await typage()).generateHybridIdentity() : newX25519Identity();
}

/** Returns the public recipient (`age1…`) of an identity string. Throws CorruptError if it is not one. */
export async function recipientOf(identity: string, file: string): Promise<string> {
  const native = x25519Recipient(identity);
  if (native !== null) return native;
  try {
    return await (await typage()).identityToRecipient(identity);
  } catch (cause) {
    throw new CorruptError(`the identity file ${file} does not hold a valid age identity`, {
      hint: "restore it from a backup; without it the store cannot be decrypted",
      cause,
    });
  }
}

/**
 * The recipient kinds typage encrypts to, by how the string starts, with the bech32 prefix, the key's length in bytes
 * and the longest string allowed (typage's own rules, checked here without loading it).
 */
const RECIPIENT_KINDS = [
  { start: "age1pq1", prefix: "age1pq", bytes: 1216, limit: false },
  { start: "age1tag1", prefix: "age1tag", bytes: 33, limit: 90 },
  { start: "age1tagpq1", prefix: "age1tagpq", bytes: 1249, limit: false },
  { start: "age1", prefix: "age", bytes: 32, limit: 90 },
] as const;

/** Returns the UsageError (exit 2) for a recipient age does not accept. */
function badRecipient(recipient: string, cause: unknown): UsageError {
  return new UsageError(`${JSON.stringify(recipient.slice(0, 100))} is not an age public key`, {
    hint: "give the age1… line that `secretfile recipient` or `age-keygen -y IDENTITY` prints",
    cause,
  });
}

/** Returns `recipient` when age accepts it as a public key; throws UsageError (exit 2) otherwise. */
export function checkRecipient(recipient: string): string {
  try {
    const kind = RECIPIENT_KINDS.find((k) => recipient.startsWith(k.start));
    if (kind === undefined) throw new Error("not an age1 recipient");
    const { prefix, bytes } = bech32Decode(recipient, kind.limit);
    if (prefix !== kind.prefix || bytes.length !== kind.bytes) throw new Error(`not a valid ${kind.start}… recipient`);
  } catch (cause) {
    throw badRecipient(recipient, cause);
  }
  return recipient;
}

/**
 * Encrypts `plaintext` to every recipient: natively when all are X25519 (x25519.ts), else with typage. Throws
 * UsageError (exit 2) for a recipient age does not accept.
 */
export async function encrypt(plaintext: Uint8Array, recipients: string[]): Promise<Uint8Array> {
  recipients.forEach(checkRecipient);
  try {
    const native = encryptX25519(plaintext, recipients);
    if (native !== null) return native;
  } catch (err) {
    if (err instanceof UnusableRecipientError) throw badRecipient(err.recipient, err.cause);
    throw err;
  }
  const e = new (await typage()).Encrypter();
  for (const r of recipients) {
    try {
      e.addRecipient(r);
    } catch (cause) {
      throw badRecipient(r, cause);
    }
  }
  // Given a stream, typage hands back a stream, read here chunk by chunk: given bytes, it collects its output with
  // `new Response(stream)`, which loads Node's fetch implementation (undici) and costs every write about 17 ms.
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(plaintext);
      controller.close();
    },
  });
  const reader = (await e.encrypt(source)).getReader();
  const chunks: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
  return Buffer.concat(chunks);
}

/** Exit 5: the store is not encrypted to the identity tried (another identity may open it). */
export class NotForThisIdentityError extends CorruptError {}

/** Exit 5: the file is neither a binary age file nor valid ASCII armor (`age -a`). */
export class DamagedArmorError extends CorruptError {}

/** Exit 5: the header opened with the identity, but the payload is damaged, truncated or extended (nothing released). */
export class DamagedPayloadError extends CorruptError {}

/** The start of every binary age file; anything else that is not empty is read as ASCII armor, as `age -d` reads it. */
const BINARY_START = Buffer.from("age-encryption.org/", "latin1");

/** The message of every damaged store, whichever part is damaged (the class says which). */
const damaged = (file: string) => `${file} is damaged, truncated or not an age file`;

/** Returns the binary age file in `bytes`: `bytes` itself, or its ASCII armor decoded. Throws DamagedArmorError. */
async function binaryOf(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  if (
    bytes.length === 0 ||
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).subarray(0, BINARY_START.length).equals(BINARY_START)
  ) {
    return bytes;
  }
  try {
    return (await typage()).armor.decode(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new DamagedArmorError(damaged(file), { hint: "restore the store from a backup", cause });
  }
}

/**
 * Decrypts `ciphertext` (binary or armored) read from `file` with `identity`; the caller owns the plaintext and zeroes
 * it after use. Throws NotForThisIdentityError (exit 5) for a file not encrypted to this identity, CorruptError (5) for
 * a damaged one (DamagedArmorError, DamagedPayloadError for those parts).
 */
export async function decrypt(ciphertext: Uint8Array, identity: string, file: string): Promise<Uint8Array> {
  const binary = await binaryOf(ciphertext, file);
  if (isX25519Identity(identity)) {
    const plaintext = decryptX25519(binary, identity);
    if (plaintext !== null) return plaintext;
  }
  return decryptWithTypage(binary, identity, file);
}

/**
 * Decrypts as `decrypt` does, with typage checking the header and unwrapping the file key (the payload is native in
 * both): the path of a post-quantum identity, the judge of every file the native path refuses, and the reference the
 * native path is tested against.
 */
export async function decryptWithTypage(ciphertext: Uint8Array, identity: string, file: string): Promise<Uint8Array> {
  const age = await typage();
  const d = new age.Decrypter();
  try {
    d.addIdentity(identity);
  } catch (cause) {
    throw new CorruptError(`the identity for ${file} is not a valid age identity`, {
      hint: "restore it from a backup",
      cause,
    });
  }
  // Tried after the real identity, so it is only asked when that one matched no recipient.
  // `as boolean`: set by the callback below, which TS's narrowing of a `let` does not see.
  let asked = false as boolean;
  d.addIdentity({
    unwrapFileKey() {
      asked = true;
      return null;
    },
  });
  const length = headerLength(ciphertext);
  let fileKey: Uint8Array;
  try {
    if (length === -1) throw new Error("no header MAC line");
    fileKey = await d.decryptHeader(ciphertext.subarray(0, length));
    if (ciphertext.length - length < NONCE_BYTES) throw new Error("the file ends before the payload's nonce");
  } catch (cause) {
    if (asked) {
      throw new NotForThisIdentityError(`${file} is not encrypted to this identity (or its header is damaged)`, {
        hint: "use the identity the store was made with (--dir), or restore the store from a backup",
        cause,
      });
    }
    throw new CorruptError(damaged(file), { hint: "restore the store from a backup", cause });
  }
  try {
    return decryptPayload(fileKey, ciphertext.subarray(length));
  } catch (cause) {
    throw new DamagedPayloadError(damaged(file), { hint: "restore the store from a backup", cause });
  } finally {
    fileKey.fill(0);
  }
}
