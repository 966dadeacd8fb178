// The age project's test vectors (npm cctv-age, C2SP/CCTV) against the store's decryption, as typage and age run them:
// each vector's expected outcome (success with its payload's hash, or the kind of failure) must be what `decrypt`
// gives, what typage's path alone gives, and the native X25519 path must give the same plaintext or nothing at all.

import { createHash } from "node:crypto";
import { inflateSync } from "node:zlib";
import * as vectors from "cctv-age";
import { generateX25519Identity } from "age-encryption";
import { describe, expect, it } from "vitest";
import { CorruptError } from "../../src/errors.js";
import {
  DamagedArmorError,
  DamagedPayloadError,
  decrypt,
  decryptWithTypage,
  NotForThisIdentityError,
} from "../../src/store/crypto.js";
import { decryptX25519, isX25519Identity } from "../../src/store/x25519.js";

/** The outcomes the store's decryption can tell apart; age's `HMAC failure` is a damaged header to it. */
type Kind = "success" | "header failure" | "payload failure" | "no match" | "armor failure";

/** One vector: its name, its header fields (a key may repeat) and the age file (inflated when compressed). */
interface Vector {
  name: string;
  meta: Record<string, string[]>;
  file: Buffer;
}

/** Parses a vector: `key: value` lines, an empty line, then the age file. */
function parse(name: string, bytes: Uint8Array): Vector {
  const all = Buffer.from(bytes);
  const split = all.indexOf("\n\n");
  const meta: Record<string, string[]> = {};
  for (const line of all.subarray(0, split).toString("utf8").split("\n")) {
    const colon = line.indexOf(": ");
    (meta[line.slice(0, colon)] ??= []).push(line.slice(colon + 2));
  }
  const body = all.subarray(split + 2);
  return { name, meta, file: meta.compressed?.[0] === "zlib" ? inflateSync(body) : body };
}

const ALL = Object.entries(vectors as Record<string, Uint8Array>)
  .filter(([, v]) => v instanceof Uint8Array)
  .map(([name, bytes]) => parse(name, bytes))
  .sort((a, b) => a.name.localeCompare(b.name));
/** A store is never encrypted to a passphrase: vectors that give one (scrypt) do not apply. */
const applies = (v: Vector) => v.meta.passphrase === undefined;
const PASSPHRASE = "a passphrase (scrypt) vector: a store is never encrypted to a passphrase";
const expected = (v: Vector): Kind =>
  v.meta.expect![0] === "HMAC failure" ? "header failure" : (v.meta.expect![0] as Kind);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
/** For the vectors without any identity (their header fails before one is asked): an identity of nobody's. */
const STRANGER = await generateX25519Identity();

/** The outcome of `fn` on a vector: success with the plaintext's hash, or the kind its error class says. */
async function outcomeOf(fn: () => Promise<Uint8Array>): Promise<{ kind: Kind; sha256?: string }> {
  try {
    return { kind: "success", sha256: sha256(await fn()) };
  } catch (err) {
    if (err instanceof DamagedArmorError) return { kind: "armor failure" };
    if (err instanceof NotForThisIdentityError) return { kind: "no match" };
    if (err instanceof DamagedPayloadError) return { kind: "payload failure" };
    if (err instanceof CorruptError) return { kind: "header failure" };
    throw err;
  }
}

/** The outcome with the vector's identities tried in turn, as a store with several would be: the first that is not `no match`. */
async function tryIdentities(
  v: Vector,
  fn: (identity: string) => Promise<Uint8Array>,
): Promise<{ kind: Kind; sha256?: string }> {
  let last: { kind: Kind; sha256?: string } = { kind: "no match" };
  for (const identity of v.meta.identity ?? [STRANGER]) {
    last = await outcomeOf(() => fn(identity));
    if (last.kind !== "no match") return last;
  }
  return last;
}

/** What a vector must give: its kind, and for a success the payload's hash. */
const want = (v: Vector) =>
  expected(v) === "success" ? { kind: "success", sha256: v.meta.payload![0] } : { kind: expected(v) };

describe("the age project's test vectors (cctv-age)", () => {
  it("are there, of every kind", () => {
    expect(ALL.length).toBeGreaterThan(100);
    expect(new Set(ALL.filter(applies).map(expected))).toEqual(
      new Set<Kind>(["success", "header failure", "payload failure", "no match", "armor failure"]),
    );
  });

  it.for(ALL)("$name: decrypt gives the expected outcome", async (v, ctx) => {
    ctx.skip(!applies(v), PASSPHRASE);
    expect(await tryIdentities(v, (identity) => decrypt(v.file, identity, v.name))).toEqual(want(v));
  });

  // Armored vectors are decrypt's alone: it reads the armor, and hands typage's path the binary file.
  it.for(ALL.filter((v) => v.meta.armored === undefined))(
    "$name: typage's path alone gives the expected outcome",
    async (v, ctx) => {
      ctx.skip(!applies(v), PASSPHRASE);
      expect(await tryIdentities(v, (identity) => decryptWithTypage(v.file, identity, v.name))).toEqual(want(v));
    },
  );

  const x25519 = ALL.filter(
    (v) => applies(v) && v.meta.armored === undefined && (v.meta.identity ?? []).some(isX25519Identity),
  );
  it.for(x25519)("$name: the native path gives the payload or nothing", (v) => {
    for (const identity of v.meta.identity!.filter(isX25519Identity)) {
      const plaintext = decryptX25519(v.file, identity);
      if (expected(v) !== "success") expect(plaintext, "no plaintext from a file age refuses").toBeNull();
      else if (plaintext !== null) expect(sha256(plaintext)).toBe(v.meta.payload![0]);
    }
  });

  it("the native path opens the X25519 success vectors itself (the rest fall back to typage, checked above)", () => {
    const success = x25519.filter((v) => expected(v) === "success");
    const native = success.filter((v) =>
      v.meta.identity!.some((id) => isX25519Identity(id) && decryptX25519(v.file, id) !== null),
    );
    console.info(`native X25519 path: ${native.length} of ${success.length} success vectors; the others fell back`);
    expect(native.length).toBeGreaterThan(0);
  });
});
