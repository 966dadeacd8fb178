// System mode end to end: every decision the agent makes is one JSON line in the audit log, and no value is ever
// written there or to the agent's standard error (invariant 1).

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot, ownExit } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem, type RunningAgent, type RunResult, type TestUser } from "../../helpers/system.js";

/** The CLI command that sends each request. */
const COMMAND_OF: Record<string, string> = { get: "get", values: "exec", list: "ls", add: "add", rm: "rm" };
const value = (tag: string) => `${tag}-${randomBytes(16).toString("hex")}`;

describe.skipIf(!isRoot)(`system agent audit log (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job", "other", "admin"]);
  const secrets = { API_KEY: value("api"), OTHER_KEY: value("other") };
  const added = { first: value("added"), second: value("replaced") };
  let agent: RunningAgent;
  /** Each call made, what it should have been audited as. */
  const calls: {
    what: string;
    r: RunResult;
    as: TestUser | undefined;
    op: string;
    allowed: boolean;
    names?: string[];
  }[] = [];

  beforeAll(async () => {
    const { job, admin } = sys.users;
    agent = await sys.startAgent({
      policyText: `read user:${job.name} API_KEY MISSING_OK\nwrite user:${admin.name} NEW_*\n`,
      secrets,
    });
    const call = async (
      what: string,
      args: string[],
      as: TestUser | undefined,
      expected: { op: string; allowed: boolean; names?: string[]; code: number },
      input?: string,
    ) => {
      const r = await agent.run(args, { as, input });
      expect(r.code, `${what}: ${r.stderr}`).toBe(ownExit(args, expected.code));
      calls.push({ what, r, as, op: expected.op, allowed: expected.allowed, names: expected.names });
    };
    const { other } = sys.users;
    await Promise.all([
      call("allowed get", ["get", "API_KEY"], job, { op: "get", allowed: true, names: ["API_KEY"], code: 0 }),
      call("denied get", ["get", "OTHER_KEY"], job, { op: "get", allowed: false, names: ["OTHER_KEY"], code: 4 }),
      call("another uid's get", ["get", "API_KEY"], other, { op: "get", allowed: false, names: ["API_KEY"], code: 4 }),
      call("readable but missing", ["get", "MISSING_OK"], job, {
        op: "get",
        allowed: false,
        names: ["MISSING_OK"],
        code: 3,
      }),
      call("unreadable and missing", ["get", "NO_SUCH"], job, {
        op: "get",
        allowed: false,
        names: ["NO_SUCH"],
        code: 4,
      }),
      call("exec", ["exec", "--", "/usr/bin/true"], job, { op: "values", allowed: true, code: 0 }),
      call("exec --only denied", ["exec", "--only", "OTHER_KEY", "--", "/usr/bin/true"], job, {
        op: "values",
        allowed: false,
        code: 4,
      }),
      call("ls", ["ls", "--json"], job, { op: "list", allowed: true, code: 0 }),
      call("root get", ["get", "OTHER_KEY"], undefined, { op: "get", allowed: true, names: ["OTHER_KEY"], code: 0 }),
    ]);
    // The admin's writes are ordered: add, replace, then a read it may not do, then remove.
    await call(
      "admin add",
      ["add", "NEW_KEY"],
      admin,
      { op: "add", allowed: true, names: ["NEW_KEY"], code: 0 },
      added.first,
    );
    await call(
      "admin replace",
      ["add", "--replace", "NEW_KEY"],
      admin,
      { op: "add", allowed: true, names: ["NEW_KEY"], code: 0 },
      added.second,
    );
    await call("admin get", ["get", "NEW_KEY"], admin, { op: "get", allowed: false, names: ["NEW_KEY"], code: 4 });
    await call("admin rm", ["rm", "NEW_KEY"], admin, { op: "rm", allowed: true, names: ["NEW_KEY"], code: 0 });
    await call(
      "admin write outside the grant",
      ["add", "API_KEY", "--replace"],
      admin,
      { op: "add", allowed: false, names: ["API_KEY"], code: 4 },
      "x",
    );
  });

  it("holds one JSON line per decision with time, op, uid, user, pid, program, cmdline, names, allowed and a reason", () => {
    const lines = agent.auditLines();
    for (const c of calls) {
      // A change allowed by the policy also has its intent line, written before it (and before its outcome here).
      const intents = lines.filter((l) => l.pid === c.r.pid && l.intent === true);
      expect(intents.length, c.what).toBe(c.allowed && (c.op === "add" || c.op === "rm") ? 1 : 0);
      const mine = lines.filter((l) => l.pid === c.r.pid && l.intent !== true);
      expect(mine, c.what).toHaveLength(1);
      if (intents.length === 1) expect(lines.indexOf(intents[0]!), c.what).toBeLessThan(lines.indexOf(mine[0]!));
      const line = mine[0]!;
      const uid = c.as?.uid ?? 0;
      const user = c.as?.name ?? "root";
      expect(line, c.what).toMatchObject({ op: c.op, uid, user, pid: c.r.pid, allowed: c.allowed });
      expect(Number.isNaN(Date.parse(String(line.time))), `${c.what}: time ${String(line.time)}`).toBe(false);
      expect(Math.abs(Date.now() - Date.parse(String(line.time)))).toBeLessThan(120_000);
      expect(
        typeof line.program === "string" && line.program.length > 0,
        `${c.what}: program ${String(line.program)}`,
      ).toBe(true);
      expect(String(line.cmdline), c.what).toContain("secretfile");
      expect(String(line.cmdline), c.what).toContain(` ${COMMAND_OF[c.op]} `);
      expect(Array.isArray(line.names), c.what).toBe(true);
      if (c.names !== undefined) expect(line.names, c.what).toEqual(c.names);
      expect(
        typeof line.reason === "string" && line.reason.length > 0,
        `${c.what}: reason ${String(line.reason)}`,
      ).toBe(true);
    }
  });

  it("says why a request was refused", () => {
    const lines = agent.auditLines();
    const of = (what: string) => lines.find((l) => l.pid === calls.find((c) => c.what === what)!.r.pid)!;
    expect(String(of("denied get").reason)).toContain("OTHER_KEY");
    expect(String(of("another uid's get").reason)).toContain(String(sys.users.other.uid));
    expect(of("readable but missing").reason).not.toBe(of("unreadable and missing").reason);
    // A list records the names it gave, and only those.
    expect(of("ls").given).toEqual(["API_KEY"]);
  });

  it("never holds a value, nor does the agent's standard error", () => {
    const log = readFileSync(agent.audit, "utf8");
    const stderr = agent.stderr();
    expect(log.split("\n").filter((l) => l !== "").length).toBeGreaterThanOrEqual(calls.length);
    for (const v of [...Object.values(secrets), ...Object.values(added)]) {
      expect(log.includes(v), "a value in the audit log").toBe(false);
      expect(stderr.includes(v), "a value in the agent's stderr").toBe(false);
    }
    // Not even a part of one (a truncated or split value).
    for (const v of [...Object.values(secrets), ...Object.values(added)]) expect(log).not.toContain(v.slice(-24));
  });
});
