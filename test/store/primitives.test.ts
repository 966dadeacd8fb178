// The primitives under an age file of X25519 keys (src/store/primitives.ts): the addon's calls into Node's own OpenSSL
// (native/crypto.c) and node:crypto give the same bytes, refuse the same inputs, and HKDF-SHA-256 is RFC 5869's.
import crypto from "node:crypto";
import { identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import { bech32Decode, bech32Encode } from "../../src/store/bech32.js";
import { equalBytes, hkdfSha256, NODE_PRIMITIVES, primitives, type Primitives } from "../../src/store/primitives.js";
import { native } from "../../src/system/native.js";

const addon = native();
const fromAddon: Primitives | undefined =
  addon?.x25519 && addon.hmacSha256 && addon.chachaOpen
    ? { x25519: addon.x25519, hmacSha256: addon.hmacSha256, chachaOpen: addon.chachaOpen }
    : undefined;

describe("the addon's OpenSSL primitives", () => {
  it("are there on this Node, and the ones primitives() uses", () => {
    expect(fromAddon, "dist/native.node exports x25519, hmacSha256 and chachaOpen (npm run build)").toBeDefined();
    expect(primitives().x25519).toBe(addon!.x25519);
  });
});

const IMPLEMENTATIONS: [string, Primitives | undefined][] = [
  ["the addon", fromAddon],
  ["node:crypto", NODE_PRIMITIVES],
];

describe.each(IMPLEMENTATIONS)("%s", (_name, p) => {
  const it_ = p === undefined ? it.skip : it;

  it_("derives X25519 public keys and shared secrets as node:crypto does (RFC 7748 §6.1 too)", () => {
    // RFC 7748, section 6.1: Alice's and Bob's keys and their shared secret.
    const a = Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex");
    const b = Buffer.from("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", "hex");
    const aPub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    const bPub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    expect(p!.x25519(a)!.toString("hex")).toBe(aPub);
    expect(p!.x25519(b)!.toString("hex")).toBe(bPub);
    expect(p!.x25519(a, Buffer.from(bPub, "hex"))!.toString("hex")).toBe(shared);
    expect(p!.x25519(b, Buffer.from(aPub, "hex"))!.toString("hex")).toBe(shared);
    for (let i = 0; i < 20; i++) {
      const secret = crypto.randomBytes(32);
      const peer = NODE_PRIMITIVES.x25519(crypto.randomBytes(32))!;
      expect(p!.x25519(secret)).toEqual(NODE_PRIMITIVES.x25519(secret));
      expect(p!.x25519(secret, peer)).toEqual(NODE_PRIMITIVES.x25519(secret, peer));
    }
  });

  it_("refuses a peer of small order (an all-zero shared secret) with null", () => {
    const secret = crypto.randomBytes(32);
    expect(p!.x25519(secret, Buffer.alloc(32))).toBeNull();
    const one = Buffer.alloc(32);
    one[0] = 1;
    expect(p!.x25519(secret, one)).toBeNull();
  });

  it_("leaves nothing behind when it refuses: node:crypto's next key import still works", async () => {
    expect(p!.x25519(crypto.randomBytes(32), Buffer.alloc(32))).toBeNull();
    // OpenSSL's error queue is per thread and shared with node:crypto: a stale error made typage's next import of an
    // identity (WebCrypto, PKCS #8) fail with "Invalid keyData".
    const identity = bech32Encode(
      "age-secret-key-",
      crypto.generateKeyPairSync("x25519").privateKey.export({ format: "der", type: "pkcs8" }).subarray(16),
    ).toUpperCase();
    const recipient = bech32Encode("age", p!.x25519(bech32Decode(identity).bytes)!);
    expect(await identityToRecipient(identity)).toBe(recipient);
  });

  it_("computes HMAC-SHA-256 as node:crypto does, for keys and data of every length", () => {
    for (const [k, d] of [
      [0, 0],
      [1, 5],
      [32, 100],
      [64, 1000],
      [100, 70_000],
    ] as const) {
      const key = crypto.randomBytes(k);
      const data = crypto.randomBytes(d);
      expect(p!.hmacSha256(key, data)).toEqual(crypto.createHmac("sha256", key).update(data).digest());
    }
  });

  it_("opens what ChaCha20-Poly1305 sealed, and nothing altered, cut or under another key or nonce", () => {
    const key = crypto.randomBytes(32);
    const nonce = crypto.randomBytes(12);
    for (const size of [0, 1, 16, 64 * 1024]) {
      const plain = crypto.randomBytes(size);
      const c = crypto.createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
      const sealed = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
      expect(p!.chachaOpen(key, nonce, sealed)).toEqual(plain);
      for (const at of [0, sealed.length - 1, Math.floor(sealed.length / 2)]) {
        const altered = Buffer.from(sealed);
        altered[at]! ^= 1;
        expect(p!.chachaOpen(key, nonce, altered)).toBeNull();
      }
      expect(p!.chachaOpen(crypto.randomBytes(32), nonce, sealed)).toBeNull();
      expect(p!.chachaOpen(key, crypto.randomBytes(12), sealed)).toBeNull();
      if (sealed.length > 16) expect(p!.chachaOpen(key, nonce, sealed.subarray(1))).toBeNull();
    }
  });

  it_("gives RFC 5869's HKDF-SHA-256 test vectors, and what node:crypto's hkdfSync gives", () => {
    // RFC 5869, appendix A.1 and A.3 (no salt, no info).
    const a1 = hkdfSha256(
      Buffer.alloc(22, 0x0b),
      Buffer.from("000102030405060708090a0b0c", "hex"),
      Buffer.from("f0f1f2f3f4f5f6f7f8f9", "hex").toString("latin1"),
      42,
      p,
    );
    expect(a1.toString("hex")).toBe(
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
    const a3 = hkdfSha256(Buffer.alloc(22, 0x0b), Buffer.alloc(0), "", 42, p);
    expect(a3.toString("hex")).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    );
    for (const [info, len] of [
      ["age-encryption.org/v1/X25519", 32],
      ["payload", 32],
      ["header", 32],
      ["long", 100],
    ] as const) {
      const ikm = crypto.randomBytes(32);
      const salt = crypto.randomBytes(16);
      expect(hkdfSha256(ikm, salt, info, len, p)).toEqual(Buffer.from(crypto.hkdfSync("sha256", ikm, salt, info, len)));
    }
  });
});

describe("equalBytes", () => {
  it("is true for the same bytes only", () => {
    expect(equalBytes(Buffer.from("abc"), Buffer.from("abc"))).toBe(true);
    expect(equalBytes(Buffer.from("abc"), Buffer.from("abd"))).toBe(false);
    expect(equalBytes(Buffer.from("abc"), Buffer.from("ab"))).toBe(false);
    expect(equalBytes(Buffer.alloc(0), Buffer.alloc(0))).toBe(true);
  });
});
