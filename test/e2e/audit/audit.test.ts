// `secretfile audit` end to end: its filters against a log written by a real agent, its JSON lines, a damaged or
// foreign log, and the permission a reader needs.

import { randomBytes } from "node:crypto";
import { appendFileSync, copyFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot, ownExit } from "../../helpers/cli.js";
import {
  NEEDS_ROOT,
  useSystem,
  type RunningAgent,
  type RunResult,
  type SysRunOptions,
  type TestUser,
} from "../../helpers/system.js";

const value = (tag: string) => `${tag}-${randomBytes(12).toString("hex")}`;

describe.skipIf(!isRoot)(`secretfile audit (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job", "other"]);
  const secrets = { API_KEY: value("api"), OTHER_KEY: value("other"), WEBEX_BOT: value("webex") };
  let agent: RunningAgent;
  /** The pid of each call, by what it did. */
  const pid: Record<string, number> = {};

  beforeAll(async () => {
    const { job, other } = sys.users;
    agent = await sys.startAgent({ policyText: `read user:${job.name} API_KEY\n`, secrets });
    const call = async (what: string, args: string[], as: TestUser | undefined, code: number) => {
      const r = await agent.run(args, { as });
      expect(r.code, `${what}: ${r.stderr}`).toBe(ownExit(args, code));
      pid[what] = r.pid;
    };
    await call("job get", ["get", "API_KEY"], job, 0);
    await call("job denied", ["get", "OTHER_KEY"], job, 4);
    await call("other exec denied", ["exec", "--only", "API_KEY", "--", "/usr/bin/true"], other, 4);
    await call("job exec", ["exec", "--", "/usr/bin/true"], job, 0);
    await call("root get", ["get", "WEBEX_BOT"], undefined, 0);
    await call("job ls", ["ls"], job, 0);
  });

  const audit = (args: string[], opts: SysRunOptions = {}): Promise<RunResult> =>
    sys.world.run(["audit", "--audit", agent.audit, ...args], opts);
  /** The pids of the records `audit --json ARGS` prints. */
  const pidsOf = async (args: string[]): Promise<number[]> => {
    const r = await audit([...args, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { pid: number }).pid);
  };
  const decisions = () => agent.auditLines().filter((l) => l.event === undefined);

  it("prints one line per decision, with time, user(uid), allowed or DENIED, op, names and the command", async () => {
    const r = await audit([]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(decisions().length);
    const { job } = sys.users;
    const get = lines.find((l) => l.includes("secretfile get API_KEY"))!;
    expect(get).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ  ${job.name}\\(${job.uid}\\) +allowed  get +API_KEY  secretfile get API_KEY$`,
      ),
    );
    const denied = lines.find((l) => l.includes("secretfile get OTHER_KEY"))!;
    expect(denied).toContain(" DENIED ");
    expect(denied).toContain("(no rule grants read of OTHER_KEY");
    // exec without --only asks for every readable name: the line shows what it was given.
    expect(lines.find((l) => l.includes("secretfile exec -- /usr/bin/true"))).toMatch(/ values +API_KEY {2}/);
    expect(lines.find((l) => l.includes("secretfile ls"))).toContain("(1 listed)");
    for (const v of Object.values(secrets)) expect(r.stdout).not.toContain(v);
  });

  it.for([
    { what: "--name", args: ["--name", "API_KEY"], expected: ["job get", "other exec denied", "job exec"] },
    { what: "--name with a glob", args: ["--name", "WEBEX_*"], expected: ["root get"] },
    { what: "--user by name", args: ["--user", "@job"], expected: ["job get", "job denied", "job exec", "job ls"] },
    { what: "--user by uid", args: ["--user", "#other"], expected: ["other exec denied"] },
    { what: "--denied", args: ["--denied"], expected: ["job denied", "other exec denied"] },
    { what: "filters together", args: ["--denied", "--user", "@job", "--since", "1h"], expected: ["job denied"] },
    {
      what: "--since a duration",
      args: ["--since", "1h"],
      expected: ["job get", "job denied", "other exec denied", "job exec", "root get", "job ls"],
    },
    { what: "--since a future date", args: ["--since", "2999-01-01"], expected: [] },
  ])("filters: $what", async ({ args, expected }) => {
    const resolved = args.map((a) =>
      a === "@job" ? sys.users.job.name : a === "#other" ? String(sys.users.other.uid) : a,
    );
    expect(await pidsOf(resolved)).toEqual(expected.map((w) => pid[w]));
  });

  it("--json prints the matching records exactly as the log holds them", async () => {
    const r = await audit(["--json", "--name", "API_KEY"]);
    const printed = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as unknown);
    const logged = decisions().filter(
      (l) => l.op !== "list" && [...(l.names as string[]), ...(l.given as string[])].includes("API_KEY"),
    );
    expect(printed).toEqual(logged);
  });

  it("says so on standard error when nothing matches, and exits 0", async () => {
    const r = await audit(["--name", "NO_SUCH_KEY"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/no matching decisions among the \d+/);
  });

  it.for([
    ["--since", "yesterday"],
    ["--since", "2026-02-30"],
    ["--name", "bad-name"],
  ])("refuses %s %s with exit 2", async (args) => {
    const r = await audit(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^secretfile: error: /);
  });

  it("passes over event lines and a truncated last line, and counts what it skipped", async () => {
    const copy = path.join(sys.world.mkdir(`damaged-${randomBytes(3).toString("hex")}`, 0o700), "audit.log");
    copyFileSync(agent.audit, copy);
    appendFileSync(
      copy,
      `${JSON.stringify({ time: new Date().toISOString(), event: "stop", pid: 1 })}\n{"time":"2026-11-03T10:00:00.000Z","op":"get","ui`,
    );
    const r = await sys.world.run(["audit", "--json"], { env: { SECRETFILE_AUDIT: copy } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(decisions().length);
    expect(r.stderr).toContain("skipped 1 line");
  });

  it("refuses a reader who may not read the log with exit 4 and the sudo hint", async () => {
    const r = await audit([], { as: sys.users.job });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("permission denied reading the audit log");
    expect(r.stderr).toContain("sudo secretfile audit");
  });

  it("refuses a symlink (exit 4) and names a missing log (exit 1)", async () => {
    const link = path.join(sys.world.root, `audit-link-${randomBytes(3).toString("hex")}`);
    symlinkSync(agent.audit, link);
    const linked = await sys.world.run(["audit", "--audit", link]);
    expect(linked.code).toBe(4);
    expect(linked.stderr).toContain("symlink");
    const missing = await sys.world.run(["audit", "--audit", path.join(sys.world.root, "nothing.log")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no audit log at");
  });
});
