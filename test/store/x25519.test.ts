// The native X25519 decryption (src/store/x25519.ts, age-header.ts): it opens what typage and the age CLI write, with
// any stanzas beside ours, and for every kind of damage it gives no plaintext, and `decrypt` reports exactly what
// typage reports (the same error class, exit code, message and hint).

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { decrypt, decryptWithTypage, recipientOf } from "../../src/store/crypto.js";
import { bech32Encode } from "../../src/store/bech32.js";
import { headerLength } from "../../src/store/payload.js";
import { decryptX25519, x25519Recipient } from "../../src/store/x25519.js";
import { ageEncrypt, ageKeygen, ageRecipient, hasAge, NO_AGE } from "../helpers/age.js";
import { outcome, resigned, typageFile } from "./age-files.js";

const CHUNK = 64 * 1024;
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ZERO_SHARE = Buffer.alloc(32).toString("base64").replace(/=+$/, "");
const tmp = mkdtempSync(path.join(os.tmpdir(), "secretfile-x25519-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const identity = await generateX25519Identity();
const recipient = await identityToRecipient(identity);
const other = await generateX25519Identity();
const otherRecipient = await identityToRecipient(other);
const pqRecipient = await identityToRecipient(await generateHybridIdentity());

/** Expects the native path, typage's path and `decrypt` all to give back `plaintext` from `file`. */
async function expectOpens(file: Uint8Array, plaintext: Uint8Array, id = identity): Promise<void> {
  const native = decryptX25519(file, id);
  expect(native, "the native path opened it").not.toBeNull();
  expect(native!.equals(plaintext)).toBe(true);
  expect(Buffer.from(await decryptWithTypage(file, id, "s.age")).equals(plaintext)).toBe(true);
  expect(Buffer.from(await decrypt(file, id, "s.age")).equals(plaintext)).toBe(true);
}

describe("the native path opens what typage writes", () => {
  it.for([0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5])("%i bytes", async (size) => {
    const plaintext = randomBytes(size);
    await expectOpens((await typageFile(plaintext, [recipient])).file, plaintext);
  });

  const grease = (n: number): [string[], Uint8Array] => [["grease-x", "a+/b", "!#$%"], randomBytes(n)];
  const cases: [string, () => (string | [string[], Uint8Array])[]][] = [
    ["another X25519 recipient first", () => [otherRecipient, recipient]],
    ["a post-quantum recipient first", () => [pqRecipient, recipient]],
    ["our recipient first, others after", () => [recipient, otherRecipient, pqRecipient]],
    [
      "an scrypt stanza beside ours",
      () => [[["scrypt", randomBytes(16).toString("base64").replace(/=+$/, ""), "10"], randomBytes(32)], recipient],
    ],
    [
      "grease stanzas with bodies of 0, 48, 96 and 100 bytes",
      () => [grease(0), grease(48), recipient, grease(96), grease(100)],
    ],
    [
      "an X25519 stanza with an all-zero share after ours",
      () => [recipient, [["X25519", ZERO_SHARE], randomBytes(32)]],
    ],
    [
      "an X25519 stanza of another identity with a malformed body after ours",
      () => [recipient, [["X25519", ZERO_SHARE, "x"], randomBytes(7)]],
    ],
  ];
  it.for(cases)("%s", async ([, stanzas]) => {
    const plaintext = randomBytes(CHUNK + 10);
    await expectOpens((await typageFile(plaintext, stanzas())).file, plaintext);
  });

  it("the identity's recipient is typage's, for 50 random identities", async () => {
    for (let i = 0; i < 50; i++) {
      const id = await generateX25519Identity();
      expect(x25519Recipient(id)).toBe(await identityToRecipient(id));
    }
  });

  it("a post-quantum identity is not the native path's: typage opens its files and names its recipient", async () => {
    const pq = await generateHybridIdentity();
    const plaintext = randomBytes(100);
    const { file } = await typageFile(plaintext, [await identityToRecipient(pq), recipient]);
    expect(decryptX25519(file, pq)).toBeNull();
    expect(x25519Recipient(pq)).toBeNull();
    expect(Buffer.from(await decrypt(file, pq, "s.age")).equals(plaintext)).toBe(true);
    expect(await recipientOf(pq, "id.txt")).toBe(await identityToRecipient(pq));
  });
});

describe.skipIf(!hasAge)(`the native path and the age CLI (skipped when ${NO_AGE})`, () => {
  const keyFile = path.join(tmp, "age-key.txt");
  const ageIdentity = () => {
    if (!existsSync(keyFile)) ageKeygen(keyFile);
    return readFileSync(keyFile, "utf8")
      .split("\n")
      .find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  };

  it("name the same recipient", () => {
    expect(x25519Recipient(ageIdentity())).toBe(ageRecipient(keyFile));
  });

  it.for([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3])(
    "the native path opens %i bytes the age CLI encrypted to two recipients",
    async (size) => {
      const plaintext = randomBytes(size);
      const id = ageIdentity();
      await expectOpens(ageEncrypt(plaintext, otherRecipient, ageRecipient(keyFile)), plaintext, id);
    },
  );
});

/** Flips bit 0 of the byte at `at` in a copy of `file`. */
function flip(file: Buffer, at: number): Buffer {
  const copy = Buffer.from(file);
  copy[at]! ^= 0x01;
  return copy;
}

describe("damage: no plaintext from the native path, and the same outcome as typage", async () => {
  const plaintext = randomBytes(2 * CHUNK + 100);
  const made = await typageFile(plaintext, [[["grease-x", "arg"], randomBytes(61)], otherRecipient, recipient]);
  const file = made.file;
  const text = file.toString("latin1", 0, headerLength(file));
  const ours = text.lastIndexOf("-> X25519 ");
  const ourBody = text.indexOf("\n", ours) + 1;
  const macLine = text.lastIndexOf("\n--- ") + 1;
  /** A base64 character that decodes to the same bytes as `c` when `c` ends a 43-column line (padding bits set). */
  const padded = (c: string) => BASE64[BASE64.indexOf(c) ^ 1]!;
  const lastOfBody = (t: string) => t.indexOf("\n", t.lastIndexOf("-> X25519 ") + 11 + 43) - 1;
  const setChar = (t: string, at: number, c: string) => t.slice(0, at) + c + t.slice(at + 1);

  const cases: [string, () => Buffer | Promise<Buffer>, string?][] = [
    ["the version line altered", () => Buffer.concat([Buffer.from("age-encryption.org/v2"), file.subarray(21)])],
    ["a byte of our stanza's share altered", () => flip(file, ours + 12)],
    ["a byte of our stanza's body altered", () => flip(file, ourBody + 5)],
    ["a byte of another stanza's body altered", () => flip(file, text.indexOf("grease-x") + 14)],
    ["the MAC altered", () => flip(file, macLine + 6)],
    ["the MAC line missing", () => Buffer.concat([file.subarray(0, macLine), file.subarray(headerLength(file))])],
    [
      "the MAC cut short",
      () => Buffer.concat([file.subarray(0, macLine + 20), Buffer.from("\n"), file.subarray(headerLength(file))]),
    ],
    ["the header cut after the version line", () => file.subarray(0, 22)],
    ["the header cut inside our stanza", () => file.subarray(0, ourBody + 10)],
    ["the header cut before the MAC line", () => file.subarray(0, macLine)],
    ["the header cut inside the MAC line", () => file.subarray(0, macLine + 10)],
    ["the header's last newline missing, no payload", () => file.subarray(0, headerLength(file) - 1)],
    ["a payload byte altered", () => flip(file, file.length - 30)],
    [
      "CRLF line endings",
      () =>
        Buffer.from(
          file.toString("latin1").slice(0, headerLength(file)).replace(/\n/g, "\r\n") +
            file.toString("latin1", headerLength(file)),
          "latin1",
        ),
    ],
    [
      "non-canonical base64 in our body",
      () => Buffer.from(setChar(file.toString("latin1"), lastOfBody(text), padded(text[lastOfBody(text)]!)), "latin1"),
    ],
    ["an empty file", () => Buffer.alloc(0)],
    ["only the version line", () => Buffer.from("age-encryption.org/v1\n")],
    // (Random bytes from the first byte on are read as armor, and refused as such: the age vectors' test covers that.)
    ["random bytes after age's intro", () => Buffer.concat([Buffer.from("age-encryption.org/"), randomBytes(300)])],
    ["a file for another identity", async () => (await typageFile(plaintext, [otherRecipient])).file],
    [
      "an X25519 stanza with an all-zero share before ours",
      async () => (await typageFile(plaintext, [[["X25519", ZERO_SHARE], randomBytes(32)], recipient])).file,
    ],
    // Damage re-signed with the file key: a header only a writer could make, and age refuses all the same.
    [
      "(signed) non-canonical base64 in our body",
      () => resigned(made, (t) => setChar(t, lastOfBody(t), padded(t[lastOfBody(t)]!))),
    ],
    [
      "(signed) non-canonical base64 in another stanza's body",
      () =>
        resigned(made, (t) =>
          t.replace(/(grease-x arg\n[^\n]{64}\n[^\n]{17})(.)/, (_: string, a: string, c: string) => a + padded(c)),
        ),
    ],
    ["(signed) a body line of 68 columns", () => resigned(made, (t) => t.replace(/(grease-x arg\n)/, "$1AAAA"))],
    [
      "(signed) a full body line with no short line after it",
      () => resigned(made, (t) => t.replace(/grease-x arg\n[^\n]*\n[^\n]*\n/, `grease-x arg\n${"A".repeat(64)}\n`)),
    ],
    [
      "(signed) an empty stanza argument",
      () => resigned(made, (t) => t.replace("-> grease-x arg", "-> grease-x  arg")),
    ],
    [
      "(signed) a byte outside printable ASCII in an argument",
      () => resigned(made, (t) => t.replace("grease-x arg", "grease-x a\u00e9g")),
    ],
    ["(signed) a tab in an argument", () => resigned(made, (t) => t.replace("grease-x arg", "grease-x\targ"))],
    [
      "(signed) an X25519 stanza with three arguments before ours",
      () => resigned(made, (t) => t.replace("-> grease-x arg", `-> X25519 ${ZERO_SHARE} x`)),
    ],
    [
      "(signed) an X25519 stanza whose share is 31 bytes before ours",
      () => resigned(made, (t) => t.replace("-> grease-x arg", `-> X25519 ${"A".repeat(42)}`)),
    ],
    ["(signed) a stanza line '->' alone", () => resigned(made, (t) => t.replace("-> grease-x arg", "->"))],
    [
      "(signed) a line that is neither a stanza nor the MAC",
      () => resigned(made, (t) => t.replace("-> grease-x arg", "-- grease-x arg")),
    ],
    ["a lowercase identity", () => file, identity.toLowerCase()],
    ["an identity with a bad checksum", () => file, identity.slice(0, -1) + (identity.endsWith("Q") ? "P" : "Q")],
    ["an identity of another kind", () => file, "AGE-PLUGIN-YUBIKEY-1QQQQQQ"],
  ];
  it.for(cases)("%s", async ([, damaged, id]) => {
    const bytes = await damaged();
    const key = id ?? identity;
    expect(decryptX25519(bytes, key)).toBeNull();
    const got = await outcome(() => decrypt(bytes, key, "/x/store.age"));
    expect(got).toEqual(await outcome(() => decryptWithTypage(bytes, key, "/x/store.age")));
    expect(got).toMatchObject({ exitCode: 5 });
  });

  it("the signed cases are signed right: the same edit that changes nothing opens", async () => {
    await expectOpens(
      resigned(made, (t) => t),
      plaintext,
    );
  });
});

describe("recipientOf", () => {
  const invalid: [string, string][] = [
    ["lowercase", identity.toLowerCase()],
    ["a bad checksum", identity.slice(0, -1) + (identity.endsWith("Q") ? "P" : "Q")],
    ["mixed case", identity.slice(0, 20) + identity.slice(20).toLowerCase()],
    ["a wrong prefix", identity.replace("AGE-SECRET-KEY-1", "AGE-SECRET-KEZ-1")],
    ["a longer prefix that starts the same", bech32Encode("age-secret-key-1qqq", randomBytes(32)).toUpperCase()],
    ["31 bytes", bech32Encode("age-secret-key-", randomBytes(31)).toUpperCase()],
    ["33 bytes", bech32Encode("age-secret-key-", randomBytes(33)).toUpperCase()],
    ["not a key", "AGE-SECRET-KEY-1"],
  ];
  it.for(invalid)("refuses an identity with %s as typage does (exit 5)", async ([, bad]) => {
    expect(x25519Recipient(bad)).toBeNull();
    await expect(recipientOf(bad, "/x/identity.txt")).rejects.toMatchObject({
      exitCode: 5,
      message: "the identity file /x/identity.txt does not hold a valid age identity",
    });
    await expect(identityToRecipient(bad)).rejects.toThrow();
  });
});
