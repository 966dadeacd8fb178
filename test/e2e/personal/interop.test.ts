// Personal mode end to end: no lock-in. The stock age CLI reads secretfile's store, secretfile reads a store
// the age CLI wrote, and an identity made by age-keygen works. Skipped, with the reason, without the age CLI.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ageDecrypt, ageEncrypt, ageKeygen, ageRecipient, hasAge, NO_AGE } from "../../helpers/age.js";
import { modeOf, removeSandboxes, sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

/** Generous: these tests start many processes, and CI machines are shared. */
const SLOW = 240_000;

interface Doc {
  format: string;
  version: number;
  secrets: Record<string, { value: string; created: string; updated: string; description?: string; expires?: string }>;
}
const decrypt = (identity: string, store: string) => JSON.parse(ageDecrypt(identity, store).toString("utf8")) as Doc;

describe.concurrent("personal mode and the age CLI", { timeout: SLOW }, () => {
  it("age -d -i identity.txt store.age decrypts the store, and its JSON holds the values and metadata", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await sb.add("MERAKI_API_KEY", 'sk live "quoted" 🔑\n', ["--description", "dashboard", "--expires", "2027-03-31"]);
    await sb.add("OTHER", "second");
    const doc = decrypt(sb.identity, sb.store);
    expect(doc).toEqual({
      format: "secretfile-store",
      version: 2,
      // The store's creation and two adds, each a write: the generation and who wrote it (the store's own key).
      generation: 3,
      written: { by: expect.stringMatching(/^age1/), at: expect.any(String) },
      secrets: {
        MERAKI_API_KEY: {
          value: 'sk live "quoted" 🔑',
          created: expect.any(String),
          updated: expect.any(String),
          description: "dashboard",
          expires: "2027-03-31",
        },
        OTHER: { value: "second", created: expect.any(String), updated: expect.any(String) },
      },
    });
    expect(new Date(doc.secrets.OTHER!.created).toISOString()).toBe(doc.secrets.OTHER!.created);
    expect(await sb.run(["rm", "OTHER"])).toMatchObject({ code: 0 });
    expect(Object.keys(decrypt(sb.identity, sb.store).secrets)).toEqual(["MERAKI_API_KEY"]);
  });

  it("secretfile reads and updates a store written by age -r in the same format", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    await sb.init();
    const created = "2026-01-02T03:04:05.000Z";
    // Written by hand above the generation this folder has served (init wrote 1), as a change must be: a lower or equal
    // one would be refused as an older store or a fork.
    const doc = {
      format: "secretfile-store",
      version: 2,
      generation: 5,
      written: { by: "an admin with age", at: created },
      secrets: { K: { value: "v from age", created, updated: created } },
    };
    // Encrypted to this identity and to a second recipient, as an admin keeping a backup key would.
    const backup = path.join(sb.root, "backup-identity.txt");
    ageKeygen(backup);
    writeFileSync(sb.store, ageEncrypt(JSON.stringify(doc), ageRecipient(sb.identity), ageRecipient(backup)));
    expect(await sb.run(["get", "K"])).toEqual({ code: 0, signal: null, stdout: "v from age", stderr: "" });
    const ls = await sb.run(["ls", "--json"]);
    expect(JSON.parse(ls.stdout)).toEqual([{ name: "K", created, updated: created, status: "ok" }]);
    expect(await sb.run(["add", "L"], { input: "added by secretfile\n" })).toMatchObject({ code: 0 });
    const after = decrypt(sb.identity, sb.store);
    expect(after.secrets.K).toEqual({ value: "v from age", created, updated: created });
    expect(after.secrets.L?.value).toBe("added by secretfile");
  });

  it("an identity made by age-keygen -o works with secretfile (store made with age -r)", async (ctx) => {
    ctx.skip(!hasAge, NO_AGE);
    const sb = sandbox();
    mkdirSync(sb.dir, { mode: 0o700 });
    ageKeygen(sb.identity);
    expect(modeOf(sb.identity)).toBe(0o600);
    const empty = JSON.stringify({ format: "secretfile-store", version: 1, secrets: {} });
    writeFileSync(sb.store, ageEncrypt(empty, ageRecipient(sb.identity)), { mode: 0o600 });
    expect(await sb.run(["ls", "--json"])).toEqual({ code: 0, signal: null, stdout: "[]\n", stderr: "" });
    expect(await sb.run(["add", "K"], { input: "keygen value" })).toMatchObject({
      code: 0,
      stderr: "secretfile: added K\n",
    });
    expect(await sb.run(["get", "K"])).toMatchObject({ code: 0, stdout: "keygen value" });
    expect(await sb.run(["exec", "--", "sh", "-c", 'test "$K" = "keygen value"'])).toMatchObject({ code: 0 });
    expect(decrypt(sb.identity, sb.store).secrets.K?.value).toBe("keygen value");
  });
});
