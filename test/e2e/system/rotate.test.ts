// `secretfile rotate` through a real agent under a write-only admin: the script runs under the admin's own uid with an
// empty standard input (it may not read the value), the new value is stored as a write the audit log records, a failing
// script, a refusing check and a hanging script leave the value as it was, and an approval rule holds the new value
// (exit 7). Root only (it makes users); skipped with the reason otherwise.

import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem, type RunningAgent } from "../../helpers/system.js";

const value = (tag: string) => `${tag}-${randomBytes(12).toString("hex")}`;

describe.skipIf(!isRoot)(`rotate through the agent (${NEEDS_ROOT})`, { timeout: 120_000 }, () => {
  const sys = useSystem(["admin", "reader", "outsider"]);
  let agent: RunningAgent;
  let script: string;
  let check: string;
  const old = { MERAKI_API_KEY: value("old-meraki"), WEBEX_TOKEN: value("old-webex"), HELD_KEY: value("old-held") };

  beforeAll(async () => {
    script = sys.world.fixture("rotate-script.sh");
    check = sys.world.fixture("rotate-check.sh");
    agent = await sys.startAgent({
      policyText: [
        `write user:${sys.users.admin.name} *`,
        `read user:${sys.users.reader.name} *`,
        `approve 2 user:${sys.users.admin.name} user:${sys.users.reader.name} HELD_*`,
        "",
      ].join("\n"),
      secrets: old,
    });
  });

  const rotate = (name: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []) =>
    agent.run(["rotate", name, "--exec", script, ...extra, "--", check, name], { as: sys.users.admin, env });
  const read = async (name: string) => (await agent.run(["get", name], { as: sys.users.reader })).stdout;

  it("runs the script as the admin with an empty standard input, stores its value, audits a write", async () => {
    const r = await rotate("MERAKI_API_KEY");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("you may not read MERAKI_API_KEY: the script gets an empty standard input");
    expect(r.stderr).toContain(`old value: [], uid ${sys.users.admin.uid}`);
    expect(r.stderr).toContain("checking MERAKI_API_KEY: [MERAKI_API_KEY (new)]");
    const next = await read("MERAKI_API_KEY");
    expect(next).toMatch(/^new-[0-9a-f]{24}$/);
    expect(r.stderr).not.toContain(next);
    const lines = agent.auditLines().filter((l) => l.uid === sys.users.admin.uid);
    expect(lines.some((l) => l.op === "get" && l.allowed === false)).toBe(true);
    expect(lines.some((l) => l.op === "add" && l.allowed === true)).toBe(true);
    expect(JSON.stringify(agent.auditLines())).not.toContain(next);
    // The old value is in the history: a rollback by the admin makes it current again.
    const back = await agent.run(["rollback", "MERAKI_API_KEY"], { as: sys.users.admin });
    expect(back.code, back.stderr).toBe(0);
    expect(await read("MERAKI_API_KEY")).toBe(old.MERAKI_API_KEY);
  });

  it.for([
    { why: "a failing script", env: { ROTATE_MODE: "fail" }, extra: [], error: /failed with exit status 3/ },
    { why: "a refusing check", env: { ROTATE_CHECK: "reject" }, extra: [], error: /the new one is not stored/ },
    { why: "a hanging script", env: { ROTATE_MODE: "hang" }, extra: ["--timeout", "1"], error: /1 s deadline/ },
  ])("keeps the value after $why: exit 1, no write reaches the agent", async ({ env, extra, error }) => {
    const before = agent.auditLines().length;
    const r = await rotate("WEBEX_TOKEN", env, extra);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(error);
    expect(r.stderr).toMatch(/WEBEX_TOKEN keeps its current value/);
    expect(r.stderr).not.toMatch(/new-[0-9a-f]{24}/);
    expect(await read("WEBEX_TOKEN")).toBe(old.WEBEX_TOKEN);
    expect(
      agent
        .auditLines()
        .slice(before)
        .some((l) => l.op === "add"),
    ).toBe(false);
  });

  it("waits for approval where a rule asks (exit 7), the current value unchanged", async () => {
    const r = await rotate("HELD_KEY");
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/add --replace HELD_KEY waits for approval/);
    expect(await read("HELD_KEY")).toBe(old.HELD_KEY);
  });

  it("refuses a caller who may not write the name (exit 4) before the script runs", async () => {
    const r = await agent.run(["rotate", "WEBEX_TOKEN", "--exec", script], { as: sys.users.outsider });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).not.toContain("old value");
  });
});
