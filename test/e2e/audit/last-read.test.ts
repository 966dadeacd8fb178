// `secretfile ls` shows when each secret was last read and by whom: the agent tracks releases (not lists, not
// refusals), seeds them from its audit log after a restart, and personal mode, which keeps no log, shows "-".

import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { removeSandboxes, sandbox } from "../../helpers/personal.js";
import { NEEDS_ROOT, request, useSystem, type RunningAgent, type TestUser } from "../../helpers/system.js";

/** Returns the LAST READ cell of `name` in `ls` output (header columns found by their position). */
function lastReadCell(ls: string, name: string): string {
  const [header, ...rows] = ls.trimEnd().split("\n");
  const start = header!.indexOf("LAST READ");
  const end = header!.indexOf("DESCRIPTION");
  const row = rows.find((r) => r.startsWith(`${name} `));
  if (row === undefined) throw new Error(`no row for ${name} in:\n${ls}`);
  return row.slice(start, end).trim();
}

describe.skipIf(!isRoot)(`ls LAST READ in system mode (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job", "other"]);
  let agent: RunningAgent;
  const ls = async (as: TestUser | undefined, args: string[] = []) => {
    const r = await sys.world.run(["ls", ...args], { as, env: { SECRETFILE_SOCKET: agent.socket } });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    const { job } = sys.users;
    const secrets = {
      API_KEY: randomBytes(8).toString("hex"),
      OTHER_KEY: randomBytes(8).toString("hex"),
      UNUSED_KEY: randomBytes(8).toString("hex"),
    };
    agent = await sys.startAgent({ policyText: `read user:${job.name} *\n`, secrets });
    expect((await agent.run(["get", "API_KEY"], { as: job })).code).toBe(0);
    expect((await agent.run(["exec", "--only", "OTHER_KEY", "--", "/usr/bin/true"])).code).toBe(0);
    // Neither a refusal nor a list is a read.
    expect((await agent.run(["get", "UNUSED_KEY"], { as: sys.users.other })).code).toBe(4);
    expect((await agent.run(["ls"], { as: job })).code).toBe(0);
  });

  it("shows the time and user of the last get or exec, and - for a secret nothing read", async () => {
    const out = await ls(sys.users.job);
    const today = new Date().toISOString().slice(0, 10);
    expect(lastReadCell(out, "API_KEY")).toMatch(new RegExp(`^${today} \\d\\d:\\d\\dZ ${sys.users.job.name}$`));
    expect(lastReadCell(out, "OTHER_KEY")).toMatch(/Z root$/);
    expect(lastReadCell(out, "UNUSED_KEY")).toBe("-");
  });

  it("gives lastRead {time, uid, user} in ls --json", async () => {
    const listed = JSON.parse(await ls(sys.users.job, ["--json"])) as {
      name: string;
      lastRead?: { time: string; uid: number; user?: string };
    }[];
    const byName = Object.fromEntries(listed.map((s) => [s.name, s.lastRead]));
    expect(byName.API_KEY).toEqual({ time: expect.any(String), uid: sys.users.job.uid, user: sys.users.job.name });
    expect(Math.abs(Date.now() - Date.parse(byName.API_KEY!.time))).toBeLessThan(120_000);
    expect(byName.OTHER_KEY).toMatchObject({ uid: 0, user: "root" });
    expect(byName.UNUSED_KEY).toBeUndefined();
  });

  it("keeps the last reads across a restart, from the audit log", async () => {
    const before = JSON.parse(await ls(undefined, ["--json"])) as unknown;
    await agent.stop();
    const again = sys.spawnAgent(agent);
    for (let i = 0; ; i++) {
      if ((await request(agent.socket, { v: 1, op: "ping" }, 1_000).catch(() => undefined))?.ok === true) break;
      if (i > 200 || !again.alive()) throw new Error(`the agent did not come back: ${again.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(JSON.parse(await ls(undefined, ["--json"]))).toEqual(before);
    // A later read after the restart replaces the seeded one.
    expect((await agent.run(["get", "OTHER_KEY"], { as: sys.users.job })).code).toBe(0);
    expect(lastReadCell(await ls(sys.users.job), "OTHER_KEY")).toMatch(new RegExp(`Z ${sys.users.job.name}$`));
  });
});

describe("ls LAST READ in personal mode", () => {
  afterAll(removeSandboxes);

  it("shows - (no audit log), even right after a get", async () => {
    const sb = sandbox();
    await sb.add("API_KEY", "v1");
    expect((await sb.run(["get", "API_KEY"])).code).toBe(0);
    const r = await sb.run(["ls"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toContain("LAST READ");
    expect(lastReadCell(r.stdout, "API_KEY")).toBe("-");
    const json = JSON.parse((await sb.run(["ls", "--json"])).stdout) as Record<string, unknown>[];
    expect(json[0]).not.toHaveProperty("lastRead");
  });
});
