// The payload of an age file (what follows its header), decrypted with Node's native HKDF and ChaCha20-Poly1305: the
// same STREAM construction typage runs in JavaScript, which costs a large store more at every start (bench/limits.md).
// Rules: exactly the age-encryption.org/v1 format (16-byte nonce, 64 KiB chunks, the last one flagged in its nonce and
// empty only when it is the only one); a truncated, extended or altered payload throws, and no plaintext leaves.

import { createDecipheriv, hkdfSync } from "node:crypto";

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

/**
 * Decrypts `payload` (the bytes after the header) with the file key the header unwrapped, and returns the plaintext.
 * Throws a plain Error for a payload that is not intact; the caller maps it to its own error.
 */
export function decryptPayload(fileKey: Uint8Array, payload: Uint8Array): Buffer {
  if (payload.length < NONCE_BYTES + TAG_BYTES) throw new Error("the payload is too short");
  const key = Buffer.from(hkdfSync("sha256", fileKey, payload.subarray(0, NONCE_BYTES), "payload", 32));
  const body = payload.subarray(NONCE_BYTES);
  const chunks = Math.ceil(body.length / (CHUNK_BYTES + TAG_BYTES));
  const lastLength = body.length - (chunks - 1) * (CHUNK_BYTES + TAG_BYTES);
  if (lastLength < TAG_BYTES) throw new Error("the last chunk is shorter than its tag");
  if (lastLength === TAG_BYTES && chunks > 1) throw new Error("the last chunk is empty");
  const plaintext = Buffer.alloc(body.length - chunks * TAG_BYTES);
  const nonce = Buffer.alloc(12);
  try {
    for (let i = 0; i < chunks; i++) {
      const last = i === chunks - 1;
      const chunk = body.subarray(
        i * (CHUNK_BYTES + TAG_BYTES),
        last ? body.length : (i + 1) * (CHUNK_BYTES + TAG_BYTES),
      );
      nonce.writeUIntBE(i, 5, 6); // an 11-byte big-endian counter (its top 5 bytes stay 0) and the last-chunk flag
      nonce[11] = last ? 1 : 0;
      const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(chunk.subarray(chunk.length - TAG_BYTES));
      const part = decipher.update(chunk.subarray(0, chunk.length - TAG_BYTES));
      try {
        decipher.final(); // throws when the tag does not match: altered, truncated, reordered or extended
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
