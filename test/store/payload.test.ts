// The store's decryption (src/store/crypto.ts with payload.ts): the header checked and the file key unwrapped natively
// (x25519.ts) or by typage (a post-quantum identity), the payload decrypted natively. Checked against typage's own
// encryption at every chunk-size edge, and against each way a payload can be cut, extended, reordered or altered: each
// is refused as damaged (exit 5), with no plaintext.

import { randomBytes } from "node:crypto";
import { Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import { CorruptError } from "../../src/errors.js";
import { decrypt } from "../../src/store/crypto.js";
import { headerLength } from "../../src/store/payload.js";

const CHUNK = 64 * 1024;
const TAG = 16;

async function sealed(plaintext: Uint8Array, identity: string): Promise<Uint8Array> {
  const e = new Encrypter();
  e.addRecipient(await identityToRecipient(identity));
  return e.encrypt(plaintext);
}

/** The byte offset where the payload's chunks start (after the header and the 16-byte nonce). */
const bodyStart = (file: Uint8Array) => headerLength(file) + 16;

describe("decrypting a store", async () => {
  const identity = await generateX25519Identity();

  it.for([0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 5, 3 * CHUNK - 1])(
    "gives back %i bytes as typage encrypted them",
    async (size) => {
      const plaintext = randomBytes(size);
      expect(Buffer.from(await decrypt(await sealed(plaintext, identity), identity, "s.age")).equals(plaintext)).toBe(
        true,
      );
    },
  );

  it("decrypts a store made for the hybrid post-quantum kind of identity", async () => {
    const pq = await generateHybridIdentity();
    const plaintext = randomBytes(CHUNK + 3);
    expect(Buffer.from(await decrypt(await sealed(plaintext, pq), pq, "s.age")).equals(plaintext)).toBe(true);
  });

  describe("refuses a damaged payload as exit 5, naming the file", async () => {
    const plaintext = randomBytes(2 * CHUNK + 100); // three chunks: two full, one short
    const file = Buffer.from(await sealed(plaintext, identity));
    const body = bodyStart(file);
    const chunkAt = (i: number) => body + i * (CHUNK + TAG);
    const cases: [string, () => Buffer][] = [
      ["a flipped byte in the first chunk", () => flip(file, chunkAt(0) + 10)],
      ["a flipped byte in the last chunk", () => flip(file, file.length - 20)],
      ["a flipped tag byte", () => flip(file, chunkAt(1) - 1)],
      ["a flipped nonce byte", () => flip(file, body - 3)],
      ["the last chunk cut off (at a chunk boundary)", () => file.subarray(0, chunkAt(2))],
      ["the last two chunks cut off", () => file.subarray(0, chunkAt(1))],
      ["one byte cut off", () => file.subarray(0, file.length - 1)],
      ["cut inside a tag", () => file.subarray(0, chunkAt(2) + 7)],
      ["a byte appended", () => Buffer.concat([file, Buffer.from([0])])],
      ["a whole chunk appended", () => Buffer.concat([file, file.subarray(chunkAt(0), chunkAt(1))])],
      [
        "two chunks swapped",
        () =>
          Buffer.concat([
            file.subarray(0, chunkAt(0)),
            file.subarray(chunkAt(1), chunkAt(2)),
            file.subarray(chunkAt(0), chunkAt(1)),
            file.subarray(chunkAt(2)),
          ]),
      ],
      ["no payload at all", () => file.subarray(0, headerLength(file))],
      ["only the nonce", () => file.subarray(0, body)],
      ["a flipped byte in the header", () => flip(file, 30)],
      ["no MAC line", () => Buffer.from("age-encryption.org/v1\n-> X25519 abc\nxyz\n")],
      ["not an age file", () => randomBytes(500)],
    ];
    it.for(cases)("%s", async ([, damaged]) => {
      const err = await decrypt(damaged(), identity, "/x/store.age").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CorruptError);
      expect((err as CorruptError).exitCode).toBe(5);
      expect((err as CorruptError).message).toContain("/x/store.age");
    });
  });

  it("an empty last chunk after a full one is refused (only an empty file may end in an empty chunk)", async () => {
    // typage never writes one; a file that has one was made or changed by someone else.
    const file = Buffer.from(await sealed(randomBytes(CHUNK), identity));
    const withEmpty = Buffer.concat([file, file.subarray(file.length - TAG)]);
    await expect(decrypt(withEmpty, identity, "s.age")).rejects.toBeInstanceOf(CorruptError);
  });

  it("says a store made for another identity is not encrypted to this one", async () => {
    const other = await generateX25519Identity();
    await expect(decrypt(await sealed(randomBytes(10), other), identity, "/x/store.age")).rejects.toThrow(
      "not encrypted to this identity",
    );
  });
});

function flip(file: Buffer, at: number): Buffer {
  const copy = Buffer.from(file);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}
