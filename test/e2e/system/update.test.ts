// `update` through the agent under real uids: a write-only admin changes a key's expiry and rotation period without
// its value, audited intent first; the job user that reads the key sees the new expiry in `ls` and the same value; an
// `approve` rule on the key holds a new value (exit 7) but not a metadata change. Root only (it makes users).

import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem, type RunningAgent } from "../../helpers/system.js";
import type { SecretInfo } from "../../../src/store/document.js";

const value = (tag: string) => `${tag}-${randomBytes(12).toString("hex")}`;

/** One secret as `ls --json` shows it. */
type Listed = SecretInfo & { status: string };

describe.skipIf(!isRoot)(`update through the agent (${NEEDS_ROOT})`, { timeout: 120_000 }, () => {
  const sys = useSystem(["admin", "second", "job"]);
  const secrets = { APP_KEY: value("app"), APP_HELD: value("held") };
  let agent: RunningAgent;

  beforeAll(async () => {
    const { admin, second, job } = sys.users;
    agent = await sys.startAgent({
      policyText: [
        `write user:${admin.name} APP_*`,
        `read user:${job.name} APP_*`,
        `approve 2 user:${admin.name} user:${second.name} APP_HELD`,
        "",
      ].join("\n"),
      secrets,
    });
  });

  const ls = async (): Promise<Map<string, Listed>> => {
    const r = await agent.run(["ls", "--json"], { as: sys.users.job });
    expect(r.code, r.stderr).toBe(0);
    return new Map((JSON.parse(r.stdout) as Listed[]).map((s) => [s.name, s]));
  };

  it("a write-only admin's update is audited intent first; the reader's ls shows it, its value and dates as they were", async () => {
    const { admin, job } = sys.users;
    const before = (await ls()).get("APP_KEY")!;
    expect(before.expires).toBeUndefined();

    const r = await agent.run(["update", "APP_KEY", "--expires", "2027-03-31", "--rotate-every", "90d"], { as: admin });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("updated APP_KEY: expires 2027-03-31, rotation every 90 days");
    expect(r.stdout).toBe("");

    const lines = agent.auditLines().filter((l) => l.pid === r.pid);
    expect(lines.map((l) => [l.op, l.intent === true, l.allowed, l.uid, l.names])).toEqual([
      ["update", true, true, admin.uid, ["APP_KEY"]],
      ["update", false, true, admin.uid, ["APP_KEY"]],
    ]);
    expect(String(lines[0]!.reason)).toMatch(/^updating \(expires 2027-03-31, rotation every 90 days\): /);
    expect(String(lines[1]!.reason)).toMatch(/^updated \(expires 2027-03-31, rotation every 90 days\): /);

    const after = (await ls()).get("APP_KEY")!;
    expect(after).toMatchObject({ expires: "2027-03-31", rotateEvery: 90, updated: before.updated });
    const got = await agent.run(["get", "APP_KEY"], { as: job });
    expect([got.code, got.stdout]).toEqual([0, secrets.APP_KEY]);
    const history = await agent.run(["history", "APP_KEY", "--json"], { as: admin });
    expect(JSON.parse(history.stdout) as unknown[]).toHaveLength(1);

    // `never` clears them again, and the rest of what ls shows stays.
    const cleared = await agent.run(["update", "APP_KEY", "--expires", "never", "--rotate-every", "never"], {
      as: admin,
    });
    expect(cleared.code, cleared.stderr).toBe(0);
    const again = (await ls()).get("APP_KEY")!;
    expect(again).toEqual({ ...before, lastRead: again.lastRead });
  });

  it("is not held by an approve rule, which holds a new value of the same key (exit 7)", async () => {
    const { admin } = sys.users;
    const held = await agent.run(["add", "APP_HELD", "--replace"], { as: admin, input: value("new") });
    expect(held.code, held.stderr).toBe(7);
    const r = await agent.run(["update", "APP_HELD", "--description", "rotated by the platform team"], { as: admin });
    expect(r.code, r.stderr).toBe(0);
    expect((await ls()).get("APP_HELD")).toMatchObject({ description: "rotated by the platform team" });
    const got = await agent.run(["get", "APP_HELD"], { as: sys.users.job });
    expect(got.stdout).toBe(secrets.APP_HELD);
  });

  it("is refused to the reader (4) and answers a missing name with 3, both audited, nothing changed", async () => {
    const { admin, job } = sys.users;
    const before = await ls();
    const refused = await agent.run(["update", "APP_KEY", "--expires", "2000-01-01"], { as: job });
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toContain("may not write APP_KEY");
    const missing = await agent.run(["update", "APP_GONE", "--expires", "2000-01-01"], { as: admin });
    expect(missing.code, missing.stderr).toBe(3);
    expect(missing.stderr).toContain("no secret named APP_GONE");
    const lines = agent.auditLines();
    expect(lines.filter((l) => l.pid === refused.pid).map((l) => [l.op, l.allowed])).toEqual([["update", false]]);
    expect(lines.filter((l) => l.pid === missing.pid && l.intent !== true).map((l) => [l.allowed, l.reason])).toEqual([
      [false, "not-found"],
    ]);
    const after = await ls();
    for (const [name, s] of before)
      expect({ ...after.get(name), lastRead: undefined }).toEqual({ ...s, lastRead: undefined });
  });
});
