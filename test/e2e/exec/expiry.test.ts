// Expiry and rotation end to end: add --rotate-every, ls's STATUS, and exec's warning lines (the job still runs).
// Rules: a secret is "expired" once its expiry date has come, "due" once updated + rotateEvery days has; exec warns
// once per key on stderr and passes the job's status through.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Decrypter, Encrypter, identityToRecipient } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import { removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";

const SLOW = 240_000;
const DAY = 24 * 60 * 60 * 1000;

interface Info {
  name: string;
  updated: string;
  expires?: string;
  rotateEvery?: number;
  status: string;
}
const ls = async (sb: Sandbox) => JSON.parse((await sb.run(["ls", "--json"])).stdout) as Info[];

/** Decrypts the sandbox's store, lets `change` edit the document, and encrypts it back (as a store made long ago). */
async function rewrite(sb: Sandbox, change: (secrets: Record<string, { updated: string }>) => void): Promise<void> {
  const identity = readFileSync(sb.identity, "utf8")
    .split("\n")
    .find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
  const d = new Decrypter();
  d.addIdentity(identity);
  const doc = JSON.parse(await d.decrypt(readFileSync(sb.store), "text")) as {
    secrets: Record<string, { updated: string }>;
    generation: number;
  };
  change(doc.secrets);
  // A store changed by hand at the same generation is a fork, and refused: a change raises it, as secretfile's own do.
  doc.generation += 1;
  const e = new Encrypter();
  e.addRecipient(await identityToRecipient(identity));
  writeFileSync(sb.store, await e.encrypt(JSON.stringify(doc)));
}

afterAll(removeSandboxes);

describe.concurrent("expiry and rotation", { timeout: SLOW }, () => {
  it("add --rotate-every takes days or weeks; ls --json shows rotateEvery and status; --replace keeps it", async () => {
    const sb = sandbox();
    await sb.add("DAILY", "v1", ["--rotate-every", "1d"]);
    await sb.add("QUARTERLY", "v2", ["--rotate-every", "90d"]);
    await sb.add("WEEKLY", "v3", ["--rotate-every", "12w"]);
    await sb.add("WEEKLY", "v4", ["--replace"]);
    const list = await ls(sb);
    expect(list.map((s) => [s.name, s.rotateEvery, s.status])).toEqual([
      ["DAILY", 1, "ok"],
      ["QUARTERLY", 90, "ok"],
      ["WEEKLY", 84, "ok"],
    ]);
  });

  it.for(["90", "90m", "0d", "d", "-5d", "1.5d", "36501d", "5215w", " 90d", "90D"])(
    "add --rotate-every %j is exit 2 and adds nothing",
    async (period) => {
      const sb = sandbox();
      const r = await sb.run(["add", "K", "--rotate-every", period], { input: "value" });
      expect(r).toEqual({
        code: 2,
        signal: null,
        stdout: "",
        stderr: `secretfile: error: invalid rotation period ${JSON.stringify(period)}\nsecretfile: hint: use a number of days or weeks, such as 90d or 12w (at most 36500 days)\n`,
      });
      expect(existsSync(sb.dir)).toBe(false);
    },
  );

  it("exec warns once per expired key, runs the job anyway and passes its status through", async () => {
    const sb = sandbox();
    await sb.add("MERAKI_API_KEY", "meraki-value-123456", ["--expires", "2020-01-01"]);
    await sb.add("WEBEX_TOKEN", "webex-value-123456", ["--expires", "2020-06-01T12:00:00Z"]);
    await sb.add("FRESH", "fresh-value-123456", ["--expires", "2999-12-31"]);
    await sb.add("PLAIN", "plain-value-123456");
    const r = await sb.run(["exec", "--", "sh", "-c", 'echo "ran with $MERAKI_API_KEY"; exit 5']);
    expect(r).toEqual({
      code: 5,
      signal: null,
      stdout: "ran with [MERAKI_API_KEY]\n",
      stderr:
        "secretfile: warning: MERAKI_API_KEY expired on 2020-01-01\nsecretfile: warning: WEBEX_TOKEN expired on 2020-06-01\n",
    });
    // Only the keys the job gets are looked at; a mapped key is named as the store names it.
    expect(await sb.run(["exec", "--only", "FRESH,PLAIN", "--", "true"])).toMatchObject({ code: 0, stderr: "" });
    expect(await sb.run(["exec", "--map", "DASH=MERAKI_API_KEY", "--", "true"])).toMatchObject({
      code: 0,
      stderr: "secretfile: warning: MERAKI_API_KEY expired on 2020-01-01\n",
    });
  });

  it("a key older than its rotation period is due: exec warns since when, ls says so, and --replace makes it ok", async () => {
    const sb = sandbox();
    await sb.add("ROTATED", "rotated-value-123456", ["--rotate-every", "30d"]);
    await sb.add("BOTH", "both-value-123456", ["--rotate-every", "30d", "--expires", "2020-01-01"]);
    await sb.add("YOUNG", "young-value-123456", ["--rotate-every", "90d"]);
    const updated = new Date(Date.now() - 40 * DAY).toISOString();
    await rewrite(sb, (secrets) => {
      for (const s of Object.values(secrets)) s.updated = updated;
    });
    const since = new Date(Date.parse(updated) + 30 * DAY).toISOString().slice(0, 10);

    const r = await sb.run(["exec", "--", "sh", "-c", "echo ran"]);
    expect(r).toEqual({
      code: 0,
      signal: null,
      stdout: "ran\n",
      stderr: `secretfile: warning: BOTH expired on 2020-01-01\nsecretfile: warning: ROTATED is due for rotation since ${since}\n`,
    });
    expect((await ls(sb)).map((s) => [s.name, s.status])).toEqual([
      ["BOTH", "expired"],
      ["ROTATED", "due"],
      ["YOUNG", "ok"],
    ]);
    const table = (await sb.run(["ls"])).stdout.split("\n");
    expect(table[0]).toMatch(/^NAME\s+UPDATED\s+EXPIRES\s+STATUS\b/);
    expect(table.slice(1, 4)).toEqual([
      expect.stringMatching(/^BOTH\s+\S+\s+2020-01-01\s+expired\b/),
      expect.stringMatching(/^ROTATED\s+\S+\s+-\s+due\b/),
      expect.stringMatching(/^YOUNG\s+\S+\s+-\s+ok\b/),
    ]);

    await sb.add("ROTATED", "rotated-value-654321", ["--replace"]);
    expect((await ls(sb)).find((s) => s.name === "ROTATED")).toMatchObject({ rotateEvery: 30, status: "ok" });
    expect(await sb.run(["exec", "--only", "ROTATED", "--", "true"])).toMatchObject({ code: 0, stderr: "" });
  });

  it("a store whose rotateEvery is not a whole number of days is damaged (exit 5)", async () => {
    const sb = sandbox();
    await sb.add("K", "value", ["--rotate-every", "7d"]);
    await rewrite(sb, (secrets) => {
      (secrets.K as unknown as { rotateEvery: unknown }).rotateEvery = "7d";
    });
    const r = await sb.run(["ls"]);
    expect(r).toMatchObject({ code: 5, stdout: "" });
    expect(r.stderr).toMatch(/^secretfile: error: .* is damaged: the entry for K is malformed\n/);
  });
});

describe("secretfile report in personal mode: for cron to mail", { timeout: SLOW }, () => {
  it("is quiet (no output, exit 0) when all is well; names a key due for rotation and an expired one (exit 1)", async () => {
    const sb = sandbox();
    await sb.add("ROTATED", "r-value", ["--rotate-every", "30d"]);
    await sb.add("FRESH", "f-value", ["--rotate-every", "30d"]);
    expect(await sb.run(["report"])).toMatchObject({ code: 0, stdout: "", stderr: "" });

    const updated = new Date(Date.now() - 40 * DAY).toISOString();
    await rewrite(sb, (secrets) => {
      secrets.ROTATED!.updated = updated;
    });
    expect((await sb.run(["update", "FRESH", "--expires", "2020-01-01"])).code).toBe(0);
    const since = new Date(Date.parse(updated) + 30 * DAY).toISOString().slice(0, 10);
    const r = await sb.run(["report"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain(`ROTATED is due for rotation since ${since}`);
    expect(r.stdout).toContain("FRESH expired on 2020-01-01");
    expect(r.stdout + r.stderr).not.toMatch(/r-value|f-value/);
    const json = await sb.run(["report", "--json"]);
    expect(json.code).toBe(1);
    const { findings, attention } = JSON.parse(json.stdout) as { findings: { kind: string }[]; attention: boolean };
    expect({ kinds: findings.map((f) => f.kind).sort(), attention }).toEqual({
      kinds: ["due", "expired"],
      attention: true,
    });
  });
});
