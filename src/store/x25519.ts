// Age files of X25519 keys without typage, so that neither a read nor a write to X25519 recipients loads it: the
// identity's key and recipient, the header's X25519 stanzas wrapped and unwrapped, the header MAC. The primitives are
// primitives.ts's (Node's own OpenSSL through the addon, else node:crypto); random bytes and sealing are node:crypto's.
// Rules: exactly age-encryption.org/v1; plaintext is returned only when the header MAC verifies; any other outcome of
// a decryption is null, and the caller asks typage, which classifies the failure as it always has. A write to any
// other kind of recipient is typage's (crypto.ts).

import crypto from "node:crypto";
import { decodeBase64, encodeBase64, encodeStanza, parseHeader, VERSION, type Stanza } from "./age-header.js";
import { bech32Decode, bech32Encode } from "./bech32.js";
import { decryptPayload, encryptPayload } from "./payload.js";
import { asBuffer, equalBytes, hkdfSha256, PKCS8_PREFIX, primitives } from "./primitives.js";

const IDENTITY_START = "AGE-SECRET-KEY-1";
const X25519_LABEL = "age-encryption.org/v1/X25519";

/** An X25519 identity ready to use: its secret's 32 bytes and its public key's. */
interface X25519Key {
  secret: Buffer;
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
  if (lastKey?.identity !== identity) {
    lastKey?.key?.secret.fill(0); // the key it replaces (a rekey's old identity) is not kept
    lastKey = { identity, key: makeX25519Key(identity) };
  }
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
  if (decoded.prefix !== "age-secret-key-" || decoded.bytes.length !== 32) {
    decoded.bytes.fill(0);
    return null;
  }
  const publicKey = primitives().x25519(decoded.bytes);
  if (publicKey === null) {
    decoded.bytes.fill(0);
    return null;
  }
  return { secret: decoded.bytes, publicKey };
}

/** Returns a new X25519 identity string (`AGE-SECRET-KEY-1…`), as `age-keygen` makes one: 32 random bytes in bech32. */
export function newX25519Identity(): string {
  const der = crypto.generateKeyPairSync("x25519").privateKey.export({ format: "der", type: "pkcs8" });
  try {
    return bech32Encode("age-secret-key-", der.subarray(PKCS8_PREFIX.length)).toUpperCase();
  } finally {
    der.fill(0);
  }
}

/** Returns the recipient (`age1…`) of the X25519 identity `identity`, or null when it is not a valid one. */
export function x25519Recipient(identity: string): string | null {
  const key = x25519Key(identity);
  return key === null ? null : bech32Encode("age", key.publicKey);
}

/**
 * Returns the key that wraps a file key in an X25519 stanza: HKDF-SHA-256 of the shared secret of `secret` and the
 * public key `peer` (raw bytes), salted with the stanza's share and the recipient. Both ends of the exchange use it.
 * Throws for a peer OpenSSL refuses (one of small order, whose shared secret is all zeros), as age does.
 */
function wrapKeyOf(secret: Buffer, peer: Buffer, share: Uint8Array, recipient: Uint8Array): Buffer {
  const shared = primitives().x25519(secret, peer);
  try {
    if (shared === null || shared.every((b) => b === 0))
      throw new Error("invalid X25519 stanza: all-zero shared secret");
    return hkdfSha256(shared, Buffer.concat([share, recipient]), X25519_LABEL, 32);
  } finally {
    shared?.fill(0);
  }
}

/** Returns a stanza wrapping `fileKey` to the X25519 public key `recipient` (raw bytes), with a new ephemeral key. */
function wrapX25519(fileKey: Uint8Array, recipient: Buffer): Stanza {
  const ephemeral = crypto.randomBytes(32);
  try {
    const share = primitives().x25519(ephemeral);
    if (share === null) throw new Error("cannot make an X25519 ephemeral key");
    const wrapKey = wrapKeyOf(ephemeral, recipient, share, recipient);
    try {
      const cipher = crypto.createCipheriv("chacha20-poly1305", wrapKey, Buffer.alloc(12), { authTagLength: 16 });
      const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
      return { args: ["X25519", encodeBase64(share)], body };
    } finally {
      wrapKey.fill(0);
    }
  } finally {
    ephemeral.fill(0);
  }
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
    const wrapKey = wrapKeyOf(key.secret, share, share, key.publicKey);
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
  return primitives().chachaOpen(wrapKey, Buffer.alloc(12), body);
}

/** Returns true when `mac` is the header MAC of `macInput` under `fileKey` (HMAC-SHA-256, compared in constant time). */
function headerMacMatches(fileKey: Uint8Array, macInput: Uint8Array, mac: Buffer): boolean {
  const expected = headerMac(fileKey, macInput);
  try {
    return equalBytes(expected, mac);
  } finally {
    expected.fill(0);
  }
}

/** Returns the header MAC of `macInput` (the header through `---`): HMAC-SHA-256 under a key HKDF made of `fileKey`. */
function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  const hmacKey = hkdfSha256(fileKey, Buffer.alloc(0), "header", 32);
  try {
    return primitives().hmacSha256(hmacKey, asBuffer(macInput));
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

/** Returns the raw public key of the X25519 recipient `recipient` (`age1…`), or null when it is not one. */
function x25519RecipientKey(recipient: string): Buffer | null {
  try {
    const { prefix, bytes } = bech32Decode(recipient);
    return prefix === "age" && bytes.length === 32 ? bytes : null;
  } catch {
    return null;
  }
}

/** An X25519 recipient no file key can be wrapped to (one of small order), with why as its cause. */
export class UnusableRecipientError extends Error {
  readonly recipient: string;
  constructor(recipient: string, cause: unknown) {
    super("not a usable X25519 public key", { cause });
    this.recipient = recipient;
  }
}

/**
 * Returns `plaintext` encrypted to `recipients` as an age file, natively, or null when one of them is not an X25519
 * recipient (`age1…` of 32 bytes): the caller then asks typage, which knows the other kinds. Throws
 * UnusableRecipientError for a recipient of small order. Each stanza has an ephemeral key of its own; the file key is
 * new and zeroed after use.
 */
export function encryptX25519(plaintext: Uint8Array, recipients: readonly string[]): Buffer | null {
  const keys = recipients.map(x25519RecipientKey);
  if (keys.some((k) => k === null)) return null;
  const fileKey = crypto.randomBytes(16);
  try {
    const stanzas = keys.map((k, i) => {
      try {
        return encodeStanza(wrapX25519(fileKey, k!));
      } catch (cause) {
        throw new UnusableRecipientError(recipients[i]!, cause);
      }
    });
    const macInput = Buffer.from(`${VERSION}\n${stanzas.join("")}---`, "latin1");
    const header = Buffer.concat([macInput, Buffer.from(` ${encodeBase64(headerMac(fileKey, macInput))}\n`)]);
    return Buffer.concat([header, encryptPayload(fileKey, plaintext)]);
  } finally {
    fileKey.fill(0);
  }
}
