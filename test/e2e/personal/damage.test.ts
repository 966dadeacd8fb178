// Personal mode end to end: a damaged, truncated, foreign or unknown store, or a garbage identity, is exit 5,
// with an error naming the file, nothing on stdout, and the store left as it was.

import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ageEncrypt, ageRecipient, hasAge, NO_AGE } from "../../helpers/age.js";
import { runCli } from "../../helpers/cli.js";
import { mapLimit, removeSandboxes, sandbox } from "../../helpers/personal.js";
import { scale } from "../../helpers/tier.js";

afterAll(removeSandboxes);

/** Generous: these tests start many processes, and CI machines are shared. */
const SLOW = 240_000;
/** Bytes flipped, one CLI run each: 200 in `npm run test:all` (every header byte among them), 24 in the fast tier. */
const FLIPS = scale("SECRETFILE_DAMAGE_FLIPS", 24, 200);

/** Returns the length of an age file's header: everything up to and including the "--- MAC" line. */
function headerLength(file: Buffer): number {
  const mac = file.indexOf("\n--- ");
  return file.indexOf("\n", mac + 1) + 1;
}

/** Writes a store folder holding `identity` (a file to copy) and `store` (bytes), both 0600. */
function storeFolder(dir: string, identity: string, store: Buffer): string {
  mkdirSync(dir, { mode: 0o700 });
  copyFileSync(identity, path.join(dir, "identity.txt"));
  chmodSync(path.join(dir, "identity.txt"), 0o600);
  writeFileSync(path.join(dir, "store.age"), store, { mode: 0o600 });
  return path.join(dir, "store.age");
}

describe.concurrent("personal mode: damaged stores", { timeout: SLOW }, () => {
  // One run of the CLI per offset: 200 take a minute on an idle 2-core machine, far more on a busy one.
  it(
    `a byte flipped at any of ${FLIPS} offsets over header and payload is exit 5, nothing on stdout, the file named`,
    { timeout: 600_000 },
    async () => {
      const sb = sandbox();
      await sb.add("K", "the value");
      const good = readFileSync(sb.store);
      const header = headerLength(good);
      expect(header).toBeGreaterThan(100);
      // Every byte of the header (its MAC line included) and offsets spread evenly over the payload; with fewer flips
      // than header bytes, offsets spread evenly over the whole file.
      const offsets = FLIPS > header ? Array.from({ length: header }, (_, i) => i) : [];
      const start = offsets.length === 0 ? 0 : header;
      const spread = FLIPS - offsets.length;
      for (let i = 0; i < spread; i++) offsets.push(start + Math.floor((i * (good.length - start - 1)) / (spread - 1)));
      expect(new Set(offsets).size).toBe(FLIPS);
      const bad = await mapLimit(offsets, 4, async (offset) => {
        const store = Buffer.from(good);
        store[offset]! ^= 0x01;
        const file = storeFolder(path.join(sb.root, `flip-${offset}`), sb.identity, store);
        const r = await runCli(["get", "K", "--dir", path.dirname(file)], { env: sb.env, timeoutMs: 120_000 });
        const ok = r.code === 5 && r.stdout === "" && r.stderr.startsWith(`secretfile: error: ${file} `);
        return ok
          ? null
          : { offset, byte: String.fromCharCode(good[offset]!), code: r.code, stdout: r.stdout, stderr: r.stderr };
      });
      expect(bad.filter((b) => b !== null)).toEqual([]);
    },
  );

  it("a truncated store is exit 5 at every length tried, the file named", async () => {
    const sb = sandbox();
    await sb.add("K", "the value");
    const good = readFileSync(sb.store);
    const header = headerLength(good);
    const lengths = [1, 22, 60, header - 1, header, header + 16, good.length - 17, good.length - 1];
    const got: Record<number, unknown> = {};
    const want: Record<number, unknown> = {};
    for (const length of lengths) {
      writeFileSync(sb.store, good.subarray(0, length));
      const r = await sb.run(["get", "K"]);
      got[length] = [r.code, r.stdout, r.stderr.split("\n")[0]];
      want[length] = [
        5,
        "",
        expect.stringMatching(
          new RegExp(
            `^secretfile: error: ${sb.store} (is damaged, truncated or not an age file|is not encrypted to this identity)`,
          ),
        ),
      ];
    }
    expect(got).toEqual(want);
  });

  // [what, the store's bytes]
  const notStores: [string, Buffer][] = [
    ["an empty file", Buffer.alloc(0)],
    ["a text file", Buffer.from("MERAKI_API_KEY=abc\n")],
    ["the plaintext JSON of a store", Buffer.from('{"format":"secretfile-store","version":1,"secrets":{}}')],
    ["random bytes", Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 73 + 11) % 256))],
    ["an age header with no payload", Buffer.from("age-encryption.org/v1\n")],
  ];
  it("an empty file, text, plaintext JSON, random bytes or a bare age header is exit 5: not an age file", async () => {
    const sb = sandbox();
    await sb.init();
    const got: Record<string, unknown> = {};
    for (const [what, bytes] of notStores) {
      writeFileSync(sb.store, bytes);
      got[what] = await sb.run(["ls"]);
    }
    const want = {
      code: 5,
      signal: null,
      stdout: "",
      stderr: `secretfile: error: ${sb.store} is damaged, truncated or not an age file\nsecretfile: hint: restore the store from a backup\n`,
    };
    expect(got).toEqual(Object.fromEntries(notStores.map(([what]) => [what, want])));
  });

  it("a store encrypted to another identity (X25519 or post-quantum) is exit 5: not encrypted to this identity", async () => {
    const sb = sandbox();
    await sb.add("K", "mine");
    const other = sandbox();
    await other.add("K", "theirs");
    const pq = sandbox();
    await pq.init(["--pq"]);
    await pq.add("K", "theirs");
    const stderr =
      `secretfile: error: ${sb.store} is not encrypted to this identity (or its header is damaged)\n` +
      "secretfile: hint: use the identity the store was made with (--dir), or restore the store from a backup\n";
    for (const foreign of [other.store, pq.store]) {
      copyFileSync(foreign, sb.store);
      expect(await sb.run(["get", "K"])).toEqual({ code: 5, signal: null, stdout: "", stderr });
    }
  });

  it("add, replace and rm on a damaged store are exit 5 and leave it byte for byte, with no temporary file or lock", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const damaged = readFileSync(sb.store);
    damaged[damaged.length - 5]! ^= 0x80;
    writeFileSync(sb.store, damaged);
    for (const args of [
      ["add", "L"],
      ["add", "K", "--replace"],
      ["rm", "K"],
    ]) {
      const r = await sb.run(args, { input: "new" });
      expect([r.code, r.stdout], args.join(" ")).toEqual([5, ""]);
      expect(r.stderr).toContain(sb.store);
    }
    expect(readFileSync(sb.store).equals(damaged)).toBe(true);
    expect(readdirSync(sb.dir).sort()).toEqual(["identity.txt", "store.age", "store.seen"]);
  });
});

describe.concurrent("personal mode: unknown store contents (written with age -r)", { timeout: SLOW }, () => {
  // [what, the plaintext, the error after "secretfile: error: STORE "]
  const docs: [string, string, string][] = [
    [
      "an unknown version",
      '{"format":"secretfile-store","version":99,"secrets":{}}',
      "has store version 99; this secretfile reads versions 1 and 2",
    ],
    [
      "a version that is a string",
      '{"format":"secretfile-store","version":"1","secrets":{}}',
      'has store version "1"; this secretfile reads versions 1 and 2',
    ],
    [
      "no format tag",
      '{"version":1,"secrets":{}}',
      'is damaged: its plaintext is not a secretfile store (no "format": "secretfile-store")',
    ],
    [
      "another format",
      '{"format":"sops","version":1,"secrets":{}}',
      'is damaged: its plaintext is not a secretfile store (no "format": "secretfile-store")',
    ],
    ["plaintext that is not JSON", "MERAKI_API_KEY=abc\n", "is damaged: its plaintext is not a JSON document"],
    ["no secrets object", '{"format":"secretfile-store","version":1}', 'is damaged: it has no "secrets" object'],
    [
      "an invalid name",
      '{"format":"secretfile-store","version":1,"secrets":{"BAD-NAME":{"value":"v","created":"x","updated":"x"}}}',
      'is damaged: it holds an invalid secret name "BAD-NAME"',
    ],
    [
      "a malformed entry",
      '{"format":"secretfile-store","version":1,"secrets":{"K":{"value":5,"created":"x","updated":"x"}}}',
      "is damaged: the entry for K is malformed",
    ],
  ];

  it("each is exit 5 with nothing on stdout and an error naming the file and what is wrong", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await sb.init();
    const recipient = ageRecipient(sb.identity);
    const got: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    for (const [what, doc, error] of docs) {
      writeFileSync(sb.store, ageEncrypt(doc, recipient));
      const r = await sb.run(["get", "K"]);
      got[what] = [r.code, r.stdout, r.stderr.split("\n")[0]];
      want[what] = [5, "", `secretfile: error: ${sb.store} ${error}`];
    }
    expect(got).toEqual(want);
    writeFileSync(sb.store, ageEncrypt(docs[0]![1], recipient));
    expect((await sb.run(["get", "K"])).stderr).toBe(
      `secretfile: error: ${sb.store} has store version 99; this secretfile reads versions 1 and 2\n` +
        "secretfile: hint: upgrade secretfile to read it, or restore the store from a backup\n",
    );
  });
});

describe.concurrent("personal mode: garbage identities", { timeout: SLOW }, () => {
  // [what, the identity file's text]
  const identities: [string, string][] = [
    ["garbage text", "this is not a key\n"],
    ["an empty file", ""],
    ["only comments", "# created: 2026-01-01\n# public key: age1xyz\n"],
    ["a public key", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"],
    ["a damaged secret key", "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n"],
    ["two keys", "AGE-SECRET-KEY-1A\nAGE-SECRET-KEY-1B\n"],
  ];

  it("each is exit 5 for get and add, nothing on stdout, the identity file named; the store is untouched", async () => {
    const sb = sandbox();
    await sb.add("K", "v");
    const store = readFileSync(sb.store);
    const got: Record<string, unknown> = {};
    for (const [i, [what, text]] of identities.entries()) {
      writeFileSync(sb.identity, text);
      const r = await sb.run(i % 2 === 0 ? ["get", "K"] : ["add", "L"], { input: "w" });
      got[what] = [r.code, r.stdout, r.stderr.includes(sb.identity)];
    }
    expect(got).toEqual(Object.fromEntries(identities.map(([what]) => [what, [5, "", true]])));
    expect(readFileSync(sb.store).equals(store)).toBe(true);
    expect(existsSync(`${sb.store}.lock`)).toBe(false);
  });
});
