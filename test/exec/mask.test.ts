// The masker against a plain reference: every occurrence of every form of every value is replaced, the earliest
// and then the longest first, whatever the number of values and wherever the job's writes are cut.
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { maskBuffer, maskPatterns } from "../../src/exec/mask.js";
import { Masker } from "../../src/exec/mask-stream.js";

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 2 ** 32;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(list: T[]) => list[Math.floor(next() * list.length)]!,
  };
}

/** The reference: every occurrence of every pattern, found one pattern at a time, earliest then longest wins. */
function reference(text: Buffer, patterns: ReturnType<typeof maskPatterns>): Buffer {
  const hits: { start: number; end: number; label: Buffer }[] = [];
  for (const p of patterns)
    for (let at = text.indexOf(p.bytes); at !== -1; at = text.indexOf(p.bytes, at + 1))
      hits.push({ start: at, end: at + p.bytes.length, label: p.label });
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const parts: Buffer[] = [];
  let pos = 0;
  for (const h of hits) {
    if (h.start < pos) continue;
    parts.push(text.subarray(pos, h.start), h.label);
    pos = h.end;
  }
  parts.push(text.subarray(pos));
  return Buffer.concat(parts);
}

/** Streams `chunks` through a Masker; resolves with everything it let out, and the pieces it let out before the end. */
async function stream(chunks: Buffer[], patterns: ReturnType<typeof maskPatterns>): Promise<Buffer> {
  const source = new PassThrough();
  const sink = new PassThrough();
  const out: Buffer[] = [];
  sink.on("data", (d: Buffer) => out.push(d));
  const done = pipeline(source, new Masker(patterns), sink);
  for (const c of chunks) source.write(c);
  source.end();
  await done;
  return Buffer.concat(out);
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=%-_ .\n";

/** Values from a small alphabet, so that they share prefixes and overlap each other in the text. */
function values(rng: ReturnType<typeof random>, count: number, alphabet: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    let v = "";
    const len = 6 + rng.int(i % 3 === 0 ? 40 : 8);
    for (let k = 0; k < len; k++) v += alphabet[rng.int(alphabet.length)]!;
    out.set(`K_${i}`, v);
  }
  return out;
}

/** Text made of noise and of values (in every form), some cut short, some touching each other. */
function text(
  rng: ReturnType<typeof random>,
  patterns: ReturnType<typeof maskPatterns>,
  pieces: number,
  alphabet: string,
): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < pieces; i++) {
    const r = rng.next();
    if (r < 0.4) parts.push(rng.pick(patterns).bytes);
    else if (r < 0.55) {
      const b = rng.pick(patterns).bytes;
      parts.push(b.subarray(0, 1 + rng.int(b.length - 1)));
    } else {
      let noise = "";
      for (let k = rng.int(12); k > 0; k--) noise += alphabet[rng.int(alphabet.length)]!;
      parts.push(Buffer.from(noise));
    }
  }
  return Buffer.concat(parts);
}

/** Cuts `buf` into pieces of random sizes (single bytes included). */
function cut(rng: ReturnType<typeof random>, buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length;) {
    const n = rng.next() < 0.3 ? 1 : 1 + rng.int(64);
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe("maskBuffer", () => {
  it.for([
    [1, 3, "abc"],
    [2, 10, ALPHABET],
    [3, 50, "ab"],
    [4, 400, ALPHABET],
    [5, 3000, ALPHABET],
  ] as const)("seed %i, %i values: the same as the reference over a whole text", ([seed, count, alphabet]) => {
    const rng = random(seed);
    const patterns = maskPatterns(values(rng, count, alphabet));
    for (let round = 0; round < 40; round++) {
      const t = text(rng, patterns, 1 + rng.int(60), alphabet);
      expect(maskBuffer(t, patterns, true).out.toString("latin1"), `round ${round}`).toBe(
        reference(t, patterns).toString("latin1"),
      );
    }
  });

  it("holds back only a tail that could begin a value, and nothing when the text cannot", () => {
    const patterns = maskPatterns(new Map([["K", "secret-value"]]));
    expect(maskBuffer(Buffer.from("log line\nsecr"), patterns, false)).toEqual({
      out: Buffer.from("log line\n"),
      rest: Buffer.from("secr"),
    });
    expect(maskBuffer(Buffer.from("log line\n"), patterns, false).rest.length).toBe(0);
    expect(maskBuffer(Buffer.from("a secret-value b secret-va"), patterns, false)).toEqual({
      out: Buffer.from("a [K] b "),
      rest: Buffer.from("secret-va"),
    });
  });

  it("passes a chunk with nothing to mask on without copying it", () => {
    const patterns = maskPatterns(new Map([["K", "secret-value"]]));
    const chunk = Buffer.from("nothing to see here\n");
    expect(maskBuffer(chunk, patterns, false).out.buffer).toBe(chunk.buffer);
  });
});

describe("Masker (a stream)", () => {
  it.for([
    [11, 5, ALPHABET],
    [12, 60, ALPHABET],
    [13, 8, "ab"],
  ] as const)(
    "seed %i, %i values: writes cut anywhere give the reference's output",
    async ([seed, count, alphabet]) => {
      const rng = random(seed);
      const patterns = maskPatterns(values(rng, count, alphabet));
      for (let round = 0; round < 25; round++) {
        const t = text(rng, patterns, 1 + rng.int(40), alphabet);
        expect((await stream(cut(rng, t), patterns)).toString("latin1"), `round ${round}`).toBe(
          reference(t, patterns).toString("latin1"),
        );
      }
    },
  );
});

describe("values inside encoded data", () => {
  const encoders = {
    base64: (b: Buffer) => b.toString("base64"),
    base64url: (b: Buffer) => b.toString("base64url"),
    hex: (b: Buffer) => b.toString("hex"),
    HEX: (b: Buffer) => b.toString("hex").toUpperCase(),
  } as const;
  // "?>?" and "~~~" encode to "/" and "+" in base64 ("_" and "-" in base64url); the short one is MIN_MASK_LENGTH long.
  const VALUES = { short: "?>?~~~", long: "sk_live_?>?~~~0123456789abcdefXYZ" } as const;
  const prefixes = ["", "u", "us", "use", "user", "user:"];
  const cases = Object.keys(encoders).flatMap((encoding) =>
    prefixes.flatMap((prefix) =>
      Object.keys(VALUES).flatMap((value) =>
        ["", "@host", "@"].map((suffix) => [encoding, prefix, value, suffix] as const),
      ),
    ),
  );

  it.for(cases)(
    "%s of %j + the %s value + %j: all but at most 2 of the value's characters masked, the rest intact",
    ([encoding, prefix, which, suffix]) => {
      const value = VALUES[which as keyof typeof VALUES];
      const encode = encoders[encoding as keyof typeof encoders];
      const encoded = encode(Buffer.from(prefix + value + suffix));
      const out = maskBuffer(
        Buffer.from(`Authorization: ${encoded}\n`),
        maskPatterns(new Map([["K", value]])),
        true,
      ).out.toString();
      const match = /^Authorization: (.*)\[K\](.*)\n$/.exec(out);
      expect(match, out).not.toBeNull();
      const [before, after] = [match![1]!, match![2]!];
      expect(encoded.startsWith(before) && encoded.endsWith(after), out).toBe(true);
      // Characters of the value's stretch (8 bits a byte, 6 or 4 a character) left unmasked: at most one on each side.
      const bits = encoding.toLowerCase() === "hex" ? 4 : 6;
      const stretch = (8 * value.length) / bits;
      expect(encoded.length - before.length - after.length, out).toBeGreaterThanOrEqual(stretch - 2);
      // The data around it is not masked away: everything encoded from the prefix alone is still there.
      expect(before.length, out).toBeGreaterThanOrEqual(Math.floor((8 * prefix.length) / bits));
    },
  );

  it("masks the Basic-auth header of user:value, and leaves values shorter than MIN_MASK_LENGTH alone", () => {
    const header = (v: string) => Buffer.from(`Authorization: Basic ${Buffer.from(`user:${v}`).toString("base64")}\n`);
    expect(
      maskBuffer(header("hunter2-password"), maskPatterns(new Map([["PW", "hunter2-password"]])), true).out.toString(),
    ).toMatch(/^Authorization: Basic dXNlcj[A-Za-z0-9+/]?\[PW\][A-Za-z0-9+/]{0,2}=*\n$/);
    expect(maskPatterns(new Map([["PW", "abcde"]]))).toEqual([]);
  });
});

describe("a value as render's filters write it", () => {
  // A rendered config file the job prints holds the value escaped: a JSON string's inside, a shell word's inside.
  it.for([
    ["json", 'p"ss\\word\n', JSON.stringify('p"ss\\word\n').slice(1, -1)],
    ["sh", "it's-a-key", `it'\\''s-a-key`],
  ])("%s form of %j is masked", ([, value, form]) => {
    const patterns = maskPatterns(new Map([["K", value!]]));
    const out = maskBuffer(Buffer.from(`key = ${form}\n`), patterns, true).out.toString();
    expect(out).toBe("key = [K]\n");
  });
});
