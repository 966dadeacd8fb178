// The native X25519 encryption and key making (src/store/x25519.ts, payload.ts, age-header.ts): what it writes, the
// age CLI, typage and our own decryption all open, with every recipient; every file has a new file key and new
// ephemeral shares; a recipient of another kind is left to typage, and a recipient of small order is refused, never
// written to; a new identity is one typage and age-keygen read, with the recipient they derive from it.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Decrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { decrypt, encrypt } from "../../src/store/crypto.js";
import { parseHeader } from "../../src/store/age-header.js";
import { bech32Encode } from "../../src/store/bech32.js";
import { encryptX25519, newX25519Identity, x25519Recipient } from "../../src/store/x25519.js";
import { ageDecrypt, ageRecipient, hasAge, NO_AGE } from "../helpers/age.js";

const CHUNK = 64 * 1024;
const tmp = mkdtempSync(path.join(os.tmpdir(), "secretfile-x25519-encrypt-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ids = [await generateX25519Identity(), await generateX25519Identity()];
const recipients = await Promise.all(ids.map((id) => identityToRecipient(id)));

/** Returns what typage makes of `file` with `identity`. */
async function typageOpens(file: Uint8Array, identity: string): Promise<Buffer> {
  const d = new Decrypter();
  d.addIdentity(identity);
  return Buffer.from(await d.decrypt(file));
}

describe("what the native path writes", () => {
  it.for([0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5])(
    "%i bytes: typage and our decryption open it with each recipient's identity",
    async (size) => {
      const plaintext = randomBytes(size);
      const file = encryptX25519(plaintext, recipients)!;
      for (const id of ids) {
        expect((await typageOpens(file, id)).equals(plaintext)).toBe(true);
        expect(Buffer.from(await decrypt(file, id, "s.age")).equals(plaintext)).toBe(true);
      }
    },
  );

  it.for([0, 1, CHUNK, 3 * CHUNK + 7])("%i bytes: the age CLI opens it with each identity", (size, ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const plaintext = randomBytes(size);
    const file = path.join(tmp, `s-${size}.age`);
    writeFileSync(file, encryptX25519(plaintext, recipients)!);
    for (const [i, id] of ids.entries()) {
      const idFile = path.join(tmp, `id-${i}.txt`);
      writeFileSync(idFile, `${id}\n`, { mode: 0o600 });
      expect(ageDecrypt(idFile, file).equals(plaintext)).toBe(true);
    }
  });

  it("a header of one X25519 stanza per recipient, in their order, each with a share of its own", () => {
    const a = parseHeader(encryptX25519(Buffer.from("same"), recipients)!);
    const b = parseHeader(encryptX25519(Buffer.from("same"), recipients)!);
    expect(a.stanzas.map((s) => [s.args[0], s.args.length, s.body.length])).toEqual([
      ["X25519", 2, 32],
      ["X25519", 2, 32],
    ]);
    const shares = [...a.stanzas, ...b.stanzas].map((s) => s.args[1]);
    expect(new Set(shares).size, "every stanza's ephemeral share is new").toBe(4);
    expect(a.mac.equals(b.mac), "a new file key each time").toBe(false);
  });

  it("leaves a post-quantum recipient to typage: `encrypt` with one opens with both kinds of identity", async () => {
    const pq = await generateHybridIdentity();
    const mixed = [recipients[0]!, await identityToRecipient(pq)];
    expect(encryptX25519(Buffer.from("x"), mixed)).toBeNull();
    const plaintext = randomBytes(300);
    const file = await encrypt(plaintext, mixed);
    expect(Buffer.from(await decrypt(file, ids[0]!, "s.age")).equals(plaintext)).toBe(true);
    expect(Buffer.from(await decrypt(file, pq, "s.age")).equals(plaintext)).toBe(true);
  });

  it("refuses a recipient of small order (an all-zero shared secret) with exit 2, as age does", async () => {
    const zero = bech32Encode("age", Buffer.alloc(32));
    // OpenSSL refuses it before our own check of the shared secret would.
    expect(() => encryptX25519(Buffer.from("x"), [recipients[0]!, zero])).toThrow();
    await expect(encrypt(Buffer.from("x"), [recipients[0]!, zero])).rejects.toMatchObject({ exitCode: 2 });
  });

  it("refuses a recipient age does not accept with exit 2 before writing anything", async () => {
    await expect(encrypt(Buffer.from("x"), [recipients[0]!, "age1notakey"])).rejects.toMatchObject({
      exitCode: 2,
      message: '"age1notakey" is not an age public key',
    });
  });
});

describe("a new X25519 identity", () => {
  it("is read by typage, which derives the same recipient, and each is new", async () => {
    const made = Array.from({ length: 20 }, () => newX25519Identity());
    expect(new Set(made).size).toBe(20);
    for (const id of made) {
      expect(id).toMatch(/^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/);
      expect(x25519Recipient(id)).toBe(await identityToRecipient(id));
    }
    const file = encryptX25519(Buffer.from("to a new key"), [x25519Recipient(made[0]!)!])!;
    expect((await typageOpens(file, made[0]!)).toString()).toBe("to a new key");
  });

  it("is read by age-keygen -y, which derives the same recipient", (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const id = newX25519Identity();
    const idFile = path.join(tmp, "new-id.txt");
    writeFileSync(idFile, `${id}\n`, { mode: 0o600 });
    expect(ageRecipient(idFile)).toBe(x25519Recipient(id));
  });
});
