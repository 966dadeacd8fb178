// Bech32 (src/store/bech32.ts) against BIP 173's test vectors and typage's own bech32 (@scure/base, the library typage
// decodes keys with), and checkRecipient (src/store/crypto.ts) against what typage's Encrypter accepts.

import { createECDH, randomBytes } from "node:crypto";
import { bech32 } from "@scure/base";
import { Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { bech32Decode, bech32Encode } from "../../src/store/bech32.js";
import { checkRecipient } from "../../src/store/crypto.js";

/** What a decoder made of `text`: the prefix and bytes in hex, or "refused". */
function decoded(decode: () => { prefix: string; bytes: Uint8Array }): string {
  try {
    const { prefix, bytes } = decode();
    return `${prefix}:${Buffer.from(bytes).toString("hex")}`;
  } catch {
    return "refused";
  }
}

/** Returns `text` with the character at `at` replaced by the next one of the bech32 alphabet. */
function mutate(text: string, at: number): string {
  const alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  const lower = text[at]!.toLowerCase();
  const next = alphabet[(alphabet.indexOf(lower) + 1) % 32] ?? "q";
  return text.slice(0, at) + (text[at] === lower ? next : next.toUpperCase()) + text.slice(at + 1);
}

describe("bech32", () => {
  // BIP 173's valid and invalid strings: each decodes (to bytes) or is refused exactly as @scure/base decides.
  const vectors = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
    " 1nwldj5",
    "\x7f1axkwrx",
    "\x801eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk",
    "1pzry9x0s0muk",
    "x1b4n0q5v",
    "li1dgmt3",
    "de1lg7wt\xff",
    "A1G7SGD8",
    "10a06t8",
    "1qzzfhee",
    "a1lqfn3a", // bech32m, not bech32
  ];
  it.for(vectors)("%j as @scure/base decides", (text) => {
    expect(decoded(() => bech32Decode(text))).toBe(decoded(() => bech32.decodeToBytes(text)));
  });

  it("encodes 200 random byte strings as @scure/base does, and decodes them back", () => {
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes(i % 40);
      const text = bech32Encode("age", bytes);
      expect(text).toBe(bech32.encode("age", bech32.toWords(bytes)));
      expect(bech32Decode(text)).toEqual({ prefix: "age", bytes: Buffer.from(bytes) });
    }
  });

  it("refuses every one-character change of an identity, as @scure/base does, and mixed case", async () => {
    const identity = await generateX25519Identity();
    for (let at = 16; at < identity.length; at++) {
      const changed = mutate(identity, at);
      expect(
        decoded(() => bech32Decode(changed)),
        changed,
      ).toBe("refused");
      expect(decoded(() => bech32.decodeToBytes(changed))).toBe("refused");
    }
    expect(decoded(() => bech32Decode(identity.slice(0, 30) + identity.slice(30).toLowerCase()))).toBe("refused");
    expect(decoded(() => bech32Decode(identity.toLowerCase()))).toBe(decoded(() => bech32Decode(identity)));
  });

  it("refuses non-zero padding bits", () => {
    // 1 byte is 8 bits in two 5-bit words: the last 2 bits are padding and must be zero.
    const words = bech32.toWords(Uint8Array.of(0xff));
    const bad = bech32.encode("age", [words[0]!, words[1]! | 1]);
    expect(decoded(() => bech32Decode(bad))).toBe("refused");
    expect(decoded(() => bech32.decodeToBytes(bad))).toBe("refused");
  });
});

describe("checkRecipient accepts exactly what typage encrypts to", async () => {
  const x25519 = await identityToRecipient(await generateX25519Identity());
  const pq = await identityToRecipient(await generateHybridIdentity());
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const tag = bech32Encode("age1tag", ecdh.getPublicKey(null, "compressed"));
  const tagpq = bech32.encode("age1tagpq", bech32.toWords(randomBytes(1249)), false);
  const recipients: [string, string][] = [
    ["an X25519 recipient", x25519],
    ["a post-quantum recipient", pq],
    ["a tag recipient", tag],
    ["a post-quantum tag recipient", tagpq],
    ["an X25519 recipient in uppercase", x25519.toUpperCase()],
    ["an X25519 recipient in mixed case", x25519.slice(0, 10) + x25519.slice(10).toUpperCase()],
    ["an X25519 recipient with a character changed", mutate(x25519, 20)],
    ["a post-quantum recipient with a character changed", mutate(pq, 400)],
    ["a tag recipient with a character changed", mutate(tag, 20)],
    ["an X25519 recipient cut short", x25519.slice(0, -1)],
    ["31 bytes", bech32Encode("age", randomBytes(31))],
    ["33 bytes", bech32Encode("age", randomBytes(33))],
    ["a post-quantum recipient of 1215 bytes", bech32.encode("age1pq", bech32.toWords(randomBytes(1215)), false)],
    [
      "a post-quantum recipient that is too long for the 90-character rule, under the X25519 kind",
      bech32.encode("age", bech32.toWords(randomBytes(1216)), false),
    ],
    ["an identity", await generateX25519Identity()],
    ["an ssh key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB"],
    ["an empty string", ""],
  ];
  it.for(recipients)("%s", ([, recipient]) => {
    let typage = true;
    try {
      new Encrypter().addRecipient(recipient);
    } catch {
      typage = false;
    }
    let ours = true;
    try {
      expect(checkRecipient(recipient)).toBe(recipient);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      ours = false;
    }
    expect(ours).toBe(typage);
  });

  it("the table holds both outcomes", () => {
    expect(recipients.slice(0, 4).every(([, r]) => checkRecipient(r) === r)).toBe(true);
    expect(() => checkRecipient("")).toThrow(UsageError);
  });
});
