// Decrypting an age file with an X25519 identity (`AGE-SECRET-KEY-1…`) on Node's native crypto (OpenSSL), so that a
// read never loads typage: the identity's key and recipient, the header's X25519 stanza unwrap, the header MAC.
// Rules: exactly age-encryption.org/v1; plaintext is returned only when the header MAC verifies; any other outcome is
// null, and the caller asks typage, which classifies the failure as it always has.

import {
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";
import { decodeBase64, parseHeader, type Stanza } from "./age-header.js";
import { bech32Decode, bech32Encode } from "./bech32.js";
import { decryptPayload } from "./payload.js";

const IDENTITY_START = "AGE-SECRET-KEY-1";
const X25519_LABEL = "age-encryption.org/v1/X25519";
/** DER prefixes of an X25519 private key (PKCS #8) and public key (SPKI): the raw 32 bytes follow. */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

/** An X25519 identity ready to use: its private key object and its public key's 32 bytes. */
interface X25519Key {
  privateKey: KeyObject;
  publicKey: Buffer;
}

/** Returns true when `identity` is of the X25519 kind (`AGE-SECRET-KEY-1…`), valid or not. */
export function isX25519Identity(identity: string): boolean {
  return identity.startsWith(IDENTITY_START);
}

/** The last identity made into a key: a read asks for it twice (its recipient, then the unwrap), each about 0.5 ms. */
let lastKey: { identity: string; key: X25519Key | null } | undefined;

/** Returns the key of the X25519 identity string `identity`, or null when it is not a valid one (as typage decides). */
function x25519Key(identity: string): X25519Key | null {
  if (lastKey?.identity !== identity) lastKey = { identity, key: makeX25519Key(identity) };
  return lastKey.key;
}

function makeX25519Key(identity: string): X25519Key | null {
  if (!isX25519Identity(identity)) return null;
  let decoded: { prefix: string; bytes: Buffer };
  try {
    decoded = bech32Decode(identity);
  } catch {
    return null;
  }
  const der = Buffer.concat([PKCS8_PREFIX, decoded.bytes]);
  try {
    if (decoded.prefix !== "age-secret-key-" || decoded.bytes.length !== 32) return null;
    const privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
    const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
    return { privateKey, publicKey: spki.subarray(SPKI_PREFIX.length) };
  } catch {
    return null;
  } finally {
    decoded.bytes.fill(0);
    der.fill(0);
  }
}

/** Returns the recipient (`age1…`) of the X25519 identity `identity`, or null when it is not a valid one. */
export function x25519Recipient(identity: string): string | null {
  const key = x25519Key(identity);
  return key === null ? null : bech32Encode("age", key.publicKey);
}

/**
 * Returns the file key wrapped to `key` in the first X25519 stanza it opens, or null when none does (another stanza
 * type is skipped). Throws a plain Error for a malformed X25519 stanza met before that, as typage and age do.
 */
function unwrapX25519(stanzas: readonly Stanza[], key: X25519Key): Buffer | null {
  for (const s of stanzas) {
    if (s.args[0] !== "X25519") continue;
    if (s.args.length !== 2 || s.body.length !== 32) throw new Error("invalid X25519 stanza");
    const share = decodeBase64(s.args[1]!);
    if (share.length !== 32) throw new Error("invalid X25519 stanza");
    const peer = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, share]), format: "der", type: "spki" });
    // OpenSSL refuses a share of small order (its shared secret is all zero); checked here as well, as age does.
    const shared = diffieHellman({ privateKey: key.privateKey, publicKey: peer });
    if (shared.every((b) => b === 0)) throw new Error("invalid X25519 stanza: all-zero shared secret");
    const wrapKey = Buffer.from(hkdfSync("sha256", shared, Buffer.concat([share, key.publicKey]), X25519_LABEL, 32));
    shared.fill(0);
    try {
      const fileKey = openFileKey(wrapKey, s.body);
      if (fileKey !== null) return fileKey;
    } finally {
      wrapKey.fill(0);
    }
  }
  return null;
}

/** Returns the 16-byte file key sealed in `body` (ChaCha20-Poly1305, zero nonce), or null when `wrapKey` does not open it. */
function openFileKey(wrapKey: Buffer, body: Buffer): Buffer | null {
  const decipher = createDecipheriv("chacha20-poly1305", wrapKey, Buffer.alloc(12), { authTagLength: 16 });
  decipher.setAuthTag(body.subarray(16));
  const fileKey = decipher.update(body.subarray(0, 16));
  try {
    decipher.final();
    return fileKey;
  } catch {
    fileKey.fill(0);
    return null;
  }
}

/** Returns true when `mac` is the header MAC of `macInput` under `fileKey` (HMAC-SHA-256, compared in constant time). */
function headerMacMatches(fileKey: Uint8Array, macInput: Uint8Array, mac: Buffer): boolean {
  const hmacKey = Buffer.from(hkdfSync("sha256", fileKey, Buffer.alloc(0), "header", 32));
  try {
    const expected = createHmac("sha256", hmacKey).update(macInput).digest();
    return expected.length === mac.length && timingSafeEqual(expected, mac);
  } finally {
    hmacKey.fill(0);
  }
}

/**
 * Decrypts the age file `ciphertext` with the X25519 identity `identity` natively and returns the plaintext (the
 * caller zeroes it), or null on any failure: not an X25519 identity, a malformed header, no stanza for this identity,
 * a wrong MAC, a damaged payload. The caller then asks typage, to report the failure exactly as before.
 */
export function decryptX25519(ciphertext: Uint8Array, identity: string): Buffer | null {
  let fileKey: Buffer | null = null;
  try {
    const key = x25519Key(identity);
    if (key === null) return null;
    const header = parseHeader(ciphertext);
    fileKey = unwrapX25519(header.stanzas, key);
    if (fileKey === null || !headerMacMatches(fileKey, header.macInput, header.mac)) return null;
    return decryptPayload(fileKey, ciphertext.subarray(header.length));
  } catch {
    return null;
  } finally {
    fileKey?.fill(0);
  }
}
