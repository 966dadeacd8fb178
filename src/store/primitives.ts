// The primitives under an age file of X25519 keys: X25519, HMAC-SHA-256 and HKDF-SHA-256 on it, ChaCha20-Poly1305
// opening, a comparison in constant time. Through the addon's calls into Node's own OpenSSL when it has them
// (native/crypto.c), so that a personal read loads no node:crypto (about 3 ms of every start, bench/limits.md); else
// through node:crypto, which the build loads only when it is first used. Sealing and random bytes (writes) are
// node:crypto's, in x25519.ts and payload.ts.
// Rules: the same bytes either way (test/store/primitives.test.ts runs both); what OpenSSL refuses is null, not a
// throw; the caller zeroes the keys it is given back.

import crypto from "node:crypto";
import { native } from "../system/native.js";

/** What each implementation provides; every key and secret is a 32-byte Buffer, a nonce 12 bytes. */
export interface Primitives {
  /** X25519 of `secret` with `peer` (their shared secret), or `secret`'s public key without one; null if refused. */
  x25519: (secret: Buffer, peer?: Buffer) => Buffer | null;
  hmacSha256: (key: Buffer, data: Buffer) => Buffer;
  /** The plaintext of `sealed` (ChaCha20-Poly1305, its 16-byte tag last), or null when the tag does not match. */
  chachaOpen: (key: Buffer, nonce: Buffer, sealed: Buffer) => Buffer | null;
}

/** DER prefixes of an X25519 private key (PKCS #8) and public key (SPKI): the raw 32 bytes follow. */
export const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
export const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

/** The primitives on node:crypto. */
export const NODE_PRIMITIVES: Primitives = {
  x25519(secret, peer) {
    const der = Buffer.concat([PKCS8_PREFIX, secret]);
    try {
      const privateKey = crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" });
      if (peer === undefined)
        return crypto.createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
      const publicKey = crypto.createPublicKey({
        key: Buffer.concat([SPKI_PREFIX, peer]),
        format: "der",
        type: "spki",
      });
      return crypto.diffieHellman({ privateKey, publicKey });
    } catch {
      return null;
    } finally {
      der.fill(0);
    }
  },
  hmacSha256: (key, data) => crypto.createHmac("sha256", key).update(data).digest(),
  chachaOpen(key, nonce, sealed) {
    const decipher = crypto.createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      decipher.final();
      return plain;
    } catch {
      plain.fill(0);
      return null;
    }
  },
};

const TAG_BYTES = 16;

let chosen: Primitives | undefined;

/** The addon's primitives when it has them, else node:crypto's. */
export function primitives(): Primitives {
  if (chosen === undefined) {
    const addon = native();
    chosen =
      addon?.x25519 !== undefined && addon.hmacSha256 !== undefined && addon.chachaOpen !== undefined
        ? { x25519: addon.x25519, hmacSha256: addon.hmacSha256, chachaOpen: addon.chachaOpen }
        : NODE_PRIMITIVES;
  }
  return chosen;
}

/** Returns `bytes` as a Buffer over the same memory (the addon takes Buffers). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * HKDF-SHA-256 (RFC 5869) of `ikm` with `salt` and `info`, `length` bytes (at most 255 × 32), on `p`'s HMAC: extract,
 * then expand. The intermediate keys are zeroed.
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: string,
  length: number,
  p: Primitives = primitives(),
): Buffer {
  if (length > 255 * 32) throw new RangeError("HKDF-SHA-256 gives at most 8160 bytes");
  const prk = p.hmacSha256(salt.length === 0 ? Buffer.alloc(32) : asBuffer(salt), asBuffer(ikm));
  const infoBytes = Buffer.from(info, "latin1");
  const out = Buffer.alloc(length);
  let block: Buffer = Buffer.alloc(0);
  try {
    for (let i = 1, at = 0; at < length; i++, at += 32) {
      const next = p.hmacSha256(prk, Buffer.concat([block, infoBytes, Buffer.from([i])]));
      block.fill(0);
      block = next;
      block.copy(out, at, 0, Math.min(32, length - at));
    }
    return out;
  } finally {
    prk.fill(0);
    block.fill(0);
  }
}

/** Returns true when `a` and `b` hold the same bytes; the time depends on their length only. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
