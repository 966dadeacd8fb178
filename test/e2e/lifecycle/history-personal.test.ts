// History and rollback in personal mode, end to end: add --replace keeps earlier values up to the store's limit,
// history lists versions and dates (never values), rollback restores one and can be undone, rm removes everything.

import { chmodSync, cpSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ageDecrypt, ageEncrypt, ageRecipient, hasAge, NO_AGE } from "../../helpers/age.js";
import { holdsPiece, removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

/** Generous: these tests start many processes, and CI machines are shared. */
const SLOW = 240_000;

interface Version {
  version: number;
  since: string;
  replaced?: string;
  current: boolean;
  restoredFrom?: number;
}
interface Stored {
  secrets: Record<string, { value: string; created: string; updated: string }>;
  history?: Record<string, { version: number; earlier?: { version: number; value: string }[] }>;
}
const value = (i: number, tag = "history") => `${tag}-value-${i}-0x${(0xc0ffee00 + i).toString(16)}`;
const plaintext = (sb: Sandbox) => ageDecrypt(sb.identity, sb.store).toString("utf8");
const stored = (sb: Sandbox) => JSON.parse(plaintext(sb)) as Stored;
const versions = async (sb: Sandbox, name: string) => {
  const r = await sb.run(["history", name, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Version[];
};
/** A new sandbox holding a copy of the store folder of `template` (mode 0700, files 0600, as secretfile makes them). */
const copyOf = async (template: Promise<Sandbox>): Promise<Sandbox> => {
  const from = await template;
  const sb = sandbox();
  cpSync(from.dir, sb.dir, { recursive: true });
  chmodSync(sb.dir, 0o700);
  for (const f of readdirSync(sb.dir)) chmodSync(path.join(sb.dir, f), 0o600);
  return sb;
};
/** Adds NAME with value(1), then replaces it with value(2) … value(n) (values tagged `tag`). */
const replaceUpTo = async (sb: Sandbox, name: string, n: number, tag?: string) => {
  await sb.add(name, value(1, tag));
  for (let i = 2; i <= n; i++) await sb.add(name, value(i, tag), ["--replace"]);
};

describe.concurrent("history and rollback (personal mode)", { timeout: SLOW }, () => {
  it("ten replacements keep the 5 newest earlier values; history lists versions and dates, never a value", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await replaceUpTo(sb, "API_KEY", 11);
    const list = await versions(sb, "API_KEY");
    expect(list.map((v) => [v.version, v.current])).toEqual([
      [11, true],
      [10, false],
      [9, false],
      [8, false],
      [7, false],
      [6, false],
    ]);
    for (const [i, v] of list.entries()) {
      expect(Object.keys(v).sort()).toEqual(
        i === 0 ? ["current", "since", "version"] : ["current", "replaced", "since", "version"],
      );
      if (i > 0) expect(v.replaced).toBe(list[i - 1]!.since); // each value lasted until the next one came
    }
    const table = await sb.run(["history", "API_KEY"]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^VERSION +SINCE +UNTIL +NOTE$/);
    expect(table.stdout.split("\n")[1]).toMatch(/^11 +\S+Z +- +current$/);
    expect(table.stderr).toBe(
      "secretfile: `secretfile rollback API_KEY --to VERSION` restores one (up to 5 earlier values are kept)\n",
    );
    for (let i = 1; i <= 11; i++) expect(holdsPiece(table.stdout + table.stderr, value(i))).toBe(false);
    // The dropped values are gone from the store's plaintext, not only hidden.
    const doc = plaintext(sb);
    for (let i = 1; i <= 5; i++) expect(doc).not.toContain(value(i));
    expect(stored(sb).history!.API_KEY!.earlier!.map((p) => [p.version, p.value])).toEqual(
      [10, 9, 8, 7, 6].map((v) => [v, value(v)]),
    );
    // ls and get are as before: no version or history in ls, the current value from get.
    expect(JSON.parse((await sb.run(["ls", "--json"])).stdout)).toEqual([
      { name: "API_KEY", created: expect.any(String), updated: list[0]!.since, status: "ok" },
    ]);
    expect((await sb.run(["get", "API_KEY"])).stdout).toBe(value(11));
  });

  it("rollback restores the previous value as a new version, and running it again undoes it; --to picks one", async () => {
    const sb = sandbox();
    await replaceUpTo(sb, "K", 4);
    const back = await sb.run(["rollback", "K"]);
    expect(back).toMatchObject({ code: 0, stdout: "" });
    expect(back.stderr).toBe(
      "secretfile: K is back to the value of version 3, as version 5\nsecretfile: `secretfile rollback K` undoes it\n",
    );
    expect((await sb.run(["get", "K"])).stdout).toBe(value(3));
    expect((await versions(sb, "K")).slice(0, 2)).toEqual([
      { version: 5, since: expect.any(String), current: true, restoredFrom: 3 },
      { version: 4, since: expect.any(String), replaced: expect.any(String), current: false },
    ]);
    expect(await sb.run(["rollback", "K"])).toMatchObject({ code: 0 });
    expect((await sb.run(["get", "K"])).stdout).toBe(value(4));
    expect(await sb.run(["rollback", "K", "--to", "1"])).toMatchObject({ code: 0 });
    expect((await sb.run(["get", "K"])).stdout).toBe(value(1));
    expect((await versions(sb, "K")).map((v) => [v.version, v.restoredFrom])).toEqual([
      [7, 1],
      [6, 4],
      [5, 3],
      [4, undefined],
      [3, undefined],
      [2, undefined],
    ]);
  });

  // One store with K at version 7, made once and copied for each case (seven `add`s each would be most of the file's time).
  const sevenVersions = (async () => {
    const sb = sandbox();
    await replaceUpTo(sb, "K", 7);
    return sb;
  })();
  it.for([
    [
      "a version no longer kept",
      ["rollback", "K", "--to", "1"],
      3,
      "K has no version 1 any more (only the 5 newest earlier values are kept) in ",
    ],
    ["a version that never was", ["rollback", "K", "--to", "99"], 3, "K has no version 99 in "],
    ["the current version", ["rollback", "K", "--to", "7"], 2, "version 7 is already the current value of K"],
    ["a bad version", ["rollback", "K", "--to", "two"], 2, 'invalid version "two"'],
    ["a missing secret", ["rollback", "NOPE"], 3, "no secret named NOPE in "],
    ["history of a missing secret", ["history", "NOPE"], 3, "no secret named NOPE in "],
    ["a name and --keep", ["history", "K", "--keep", "3"], 2, "give NAME or --keep, not both"],
    ["a bad limit", ["history", "--keep", "101"], 2, 'invalid history limit "101"'],
  ])(
    "%s is an error with the right exit code, a message and a hint, and changes nothing",
    async ([, args, code, message]) => {
      const sb = await copyOf(sevenVersions);
      const before = await versions(sb, "K");
      const r = await sb.run(args as string[]);
      expect(r).toMatchObject({ code, stdout: "" });
      expect(r.stderr.startsWith(`secretfile: error: ${message as string}`), r.stderr).toBe(true);
      expect(r.stderr).toMatch(/\nsecretfile: hint: \S/);
      expect(await versions(sb, "K")).toEqual(before);
    },
  );

  it("a secret never replaced has no earlier value to roll back to", async () => {
    const sb = sandbox();
    await sb.add("K", value(1));
    const r = await sb.run(["rollback", "K"]);
    expect(r).toMatchObject({ code: 3, stdout: "" });
    expect(r.stderr).toMatch(
      /^secretfile: error: K has no earlier value in \S+store\.age\nsecretfile: hint: earlier values are kept from the next `secretfile add K --replace` on\n$/,
    );
  });

  it("history --keep N lowers the limit and drops what is beyond it at once; 0 keeps none", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await replaceUpTo(sb, "A", 6);
    await replaceUpTo(sb, "B", 3, "other");
    expect(await sb.run(["history"])).toMatchObject({
      code: 0,
      stdout: "",
      stderr: "secretfile: each secret keeps up to 5 earlier values\n",
    });
    expect(await sb.run(["history", "--keep", "2"])).toMatchObject({
      code: 0,
      stderr: "secretfile: each secret now keeps up to 2 earlier values\n",
    });
    expect(stored(sb).history!.A!.earlier!.map((p) => p.version)).toEqual([5, 4]);
    expect(stored(sb).history!.B!.earlier!.map((p) => p.version)).toEqual([2, 1]);
    await sb.add("A", value(7), ["--replace"]);
    expect((await versions(sb, "A")).map((v) => v.version)).toEqual([7, 6, 5]);
    expect(JSON.parse((await sb.run(["history", "--json"])).stdout)).toEqual({ keep: 2 });

    expect(await sb.run(["history", "--keep", "0"])).toMatchObject({ code: 0 });
    const doc = plaintext(sb);
    for (let i = 1; i <= 6; i++) expect(doc).not.toContain(value(i));
    await sb.add("A", value(8), ["--replace"]);
    expect(stored(sb).history!.A).toEqual({ version: 8 }); // the version still counts; no earlier value is kept
    expect(await sb.run(["rollback", "A"])).toMatchObject({ code: 3 });
  });

  it("rm removes the secret's history too: added again, it starts at version 1 with no earlier value", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await replaceUpTo(sb, "K", 3);
    expect(await sb.run(["rm", "K"])).toMatchObject({ code: 0 });
    for (let i = 1; i <= 3; i++) expect(plaintext(sb)).not.toContain(value(i));
    await sb.add("K", value(9));
    expect(await versions(sb, "K")).toEqual([{ version: 1, since: expect.any(String), current: true }]);
  });

  it("a store written before history existed opens, and its secrets start their history at version 1", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await sb.init();
    const created = "2025-01-02T03:04:05.000Z";
    const doc = {
      format: "secretfile-store",
      version: 1,
      secrets: { OLD: { value: value(1), created, updated: created } },
    };
    writeFileSync(sb.store, ageEncrypt(JSON.stringify(doc), ageRecipient(sb.identity)));
    // A folder from before generations has no record of the newest store served (init wrote one).
    rmSync(path.join(sb.dir, "store.seen"));
    expect(await versions(sb, "OLD")).toEqual([{ version: 1, since: created, current: true }]);
    await sb.add("OLD", value(2), ["--replace"]);
    expect(await versions(sb, "OLD")).toEqual([
      { version: 2, since: expect.any(String), current: true },
      { version: 1, since: created, replaced: expect.any(String), current: false },
    ]);
    expect(await sb.run(["rollback", "OLD"])).toMatchObject({ code: 0 });
    expect((await sb.run(["get", "OLD"])).stdout).toBe(value(1));
  });

  it("malformed history in the store is exit 5 naming the file, as any damage is", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await sb.init();
    const t = "2025-01-02T03:04:05.000Z";
    const doc = {
      format: "secretfile-store",
      version: 1,
      secrets: { K: { value: "v", created: t, updated: t } },
      history: { K: { version: 2, earlier: [{ version: 0, value: "x" }] } },
    };
    writeFileSync(sb.store, ageEncrypt(JSON.stringify(doc), ageRecipient(sb.identity)));
    const r = await sb.run(["history", "K"]);
    expect(r).toMatchObject({ code: 5, stdout: "" });
    expect(r.stderr).toBe(
      `secretfile: error: ${sb.store} is damaged: the history of K is malformed\nsecretfile: hint: restore the store from a backup\n`,
    );
  });
});
