// Age files of X25519 keys on Node's native crypto (OpenSSL), so that neither a read nor a write to X25519 recipients
// loads typage: the identity's key and recipient, the header's X25519 stanzas wrapped and unwrapped, the header MAC.
// Rules: exactly age-encryption.org/v1; plaintext is returned only when the header MAC verifies; any other outcome of
// a decryption is null, and the caller asks typage, which classifies the failure as it always has. A write to any
// other kind of recipient is typage's (crypto.ts).

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";
import { decodeBase64, encodeBase64, encodeStanza, parseHeader, VERSION, type Stanza } from "./age-header.js";
import { bech32Decode, bech32Encode } from "./bech32.js";
import { decryptPayload, encryptPayload } from "./payload.js";

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

/** Returns a new X25519 identity string (`AGE-SECRET-KEY-1…`), as `age-keygen` makes one: 32 random bytes in bech32. */
export function newX25519Identity(): string {
  const der = generateKeyPairSync("x25519").privateKey.export({ format: "der", type: "pkcs8" });
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

/** Returns the X25519 public key object of its raw 32 bytes. */
const publicKeyOf = (raw: Uint8Array) =>
  createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });

/**
 * Returns the key that wraps a file key in an X25519 stanza: HKDF-SHA-256 of the shared secret of `privateKey` and the
 * public key `peer` (raw bytes), salted with the stanza's share and the recipient. Both ends of the exchange use it.
 * Throws for an all-zero shared secret (a peer of small order, which OpenSSL refuses too), as age does.
 */
function wrapKeyOf(privateKey: KeyObject, peer: Uint8Array, share: Uint8Array, recipient: Uint8Array): Buffer {
  const shared = diffieHellman({ privateKey, publicKey: publicKeyOf(peer) });
  try {
    if (shared.every((b) => b === 0)) throw new Error("invalid X25519 stanza: all-zero shared secret");
    return Buffer.from(hkdfSync("sha256", shared, Buffer.concat([share, recipient]), X25519_LABEL, 32));
  } finally {
    shared.fill(0);
  }
}

/** Returns a stanza wrapping `fileKey` to the X25519 public key `recipient` (raw bytes), with a new ephemeral key. */
function wrapX25519(fileKey: Uint8Array, recipient: Uint8Array): Stanza {
  const ephemeral = generateKeyPairSync("x25519");
  const share = ephemeral.publicKey.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
  const wrapKey = wrapKeyOf(ephemeral.privateKey, recipient, share, recipient);
  try {
    const cipher = createCipheriv("chacha20-poly1305", wrapKey, Buffer.alloc(12), { authTagLength: 16 });
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    return { args: ["X25519", encodeBase64(share)], body };
  } finally {
    wrapKey.fill(0);
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
    const wrapKey = wrapKeyOf(key.privateKey, share, share, key.publicKey);
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
  const expected = headerMac(fileKey, macInput);
  return expected.length === mac.length && timingSafeEqual(expected, mac);
}

/** Returns the header MAC of `macInput` (the header through `---`): HMAC-SHA-256 under a key HKDF made of `fileKey`. */
function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  const hmacKey = Buffer.from(hkdfSync("sha256", fileKey, Buffer.alloc(0), "header", 32));
  try {
    return createHmac("sha256", hmacKey).update(macInput).digest();
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
  const fileKey = randomBytes(16);
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
