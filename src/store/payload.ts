// The payload of an age file (what follows its header), decrypted with primitives.ts (Node's own OpenSSL through the
// addon, else node:crypto) and encrypted with node:crypto: the same STREAM construction typage runs in JavaScript,
// which costs a large store more at every start (bench/limits.md).
// Rules: exactly the age-encryption.org/v1 format (16-byte nonce, 64 KiB chunks, the last one flagged in its nonce and
// empty only when it is the only one); a truncated, extended or altered payload throws, and no plaintext leaves.

import crypto from "node:crypto";
import { asBuffer, hkdfSha256, primitives } from "./primitives.js";

/** The payload starts with a 16-byte nonce; age counts a file cut before its end as a damaged header. */
export const NONCE_BYTES = 16;
const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;

/**
 * Returns the length of the header at the start of the age file `file` (through its MAC line), or -1 when it has no
 * MAC line. Only the MAC line starts with "---": a stanza's lines start with "-> " or hold base64, which has no '-'.
 * Only finds where the header ends, for typage's path (crypto.ts); the native path parses it whole (age-header.ts).
 */
export function headerLength(file: Uint8Array): number {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const mac = bytes.indexOf("\n--- ");
  const end = mac === -1 ? -1 : bytes.indexOf(0x0a, mac + 1);
  return end === -1 ? -1 : end + 1;
}

/** Returns the payload key: HKDF-SHA-256 of the file key, salted with the payload's nonce. */
function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return hkdfSha256(fileKey, nonce, "payload", 32);
}

/** Returns chunk `i`'s nonce: an 11-byte big-endian counter (its top 5 bytes stay 0), then the last-chunk flag. */
function chunkNonce(i: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(i, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/**
 * Returns `plaintext` as an age payload under `fileKey`: a new random nonce, then 64 KiB chunks each sealed with its
 * tag, the last flagged (empty only when it is the only one).
 */
export function encryptPayload(fileKey: Uint8Array, plaintext: Uint8Array): Buffer {
  const nonce = crypto.randomBytes(NONCE_BYTES);
  const key = payloadKey(fileKey, nonce);
  const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK_BYTES));
  const parts: Buffer[] = [nonce];
  try {
    for (let i = 0; i < chunks; i++) {
      const cipher = crypto.createCipheriv("chacha20-poly1305", key, chunkNonce(i, i === chunks - 1), {
        authTagLength: TAG_BYTES,
      });
      parts.push(cipher.update(plaintext.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)), cipher.final());
      parts.push(cipher.getAuthTag());
    }
    return Buffer.concat(parts);
  } finally {
    key.fill(0);
  }
}

/**
 * Decrypts `payload` (the bytes after the header) with the file key the header unwrapped, and returns the plaintext.
 * Throws a plain Error for a payload that is not intact; the caller maps it to its own error.
 */
export function decryptPayload(fileKey: Uint8Array, payload: Uint8Array): Buffer {
  if (payload.length < NONCE_BYTES + TAG_BYTES) throw new Error("the payload is too short");
  const key = payloadKey(fileKey, payload.subarray(0, NONCE_BYTES));
  const body = asBuffer(payload).subarray(NONCE_BYTES);
  const chunks = Math.ceil(body.length / (CHUNK_BYTES + TAG_BYTES));
  const lastLength = body.length - (chunks - 1) * (CHUNK_BYTES + TAG_BYTES);
  if (lastLength < TAG_BYTES) throw new Error("the last chunk is shorter than its tag");
  if (lastLength === TAG_BYTES && chunks > 1) throw new Error("the last chunk is empty");
  const plaintext = Buffer.alloc(body.length - chunks * TAG_BYTES);
  const p = primitives();
  try {
    for (let i = 0; i < chunks; i++) {
      const last = i === chunks - 1;
      const chunk = body.subarray(
        i * (CHUNK_BYTES + TAG_BYTES),
        last ? body.length : (i + 1) * (CHUNK_BYTES + TAG_BYTES),
      );
      // null when the tag does not match: altered, truncated, reordered or extended
      const part = p.chachaOpen(key, chunkNonce(i, last), chunk);
      if (part === null) throw new Error(`chunk ${i} of the payload does not open`);
      try {
        part.copy(plaintext, i * CHUNK_BYTES);
      } finally {
        part.fill(0);
      }
    }
    return plaintext;
  } catch (err) {
    plaintext.fill(0);
    throw err;
  } finally {
    key.fill(0);
  }
}
