// `secretfile report` against a real agent, run as root as cron would: quiet (no output, exit 0) when nothing needs
// attention, then one line a finding (exit 1): an expired and an expiring key, a refused read naming who and from which
// program, a key no job read within --unread, and a job expected by the policy to read a key that stopped (the
// dead-man switch on the audit log); --json for monitoring. Root only (it makes users); skipped with the reason otherwise.

import { describe, expect, it, beforeAll } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem, type RunningAgent } from "../../helpers/system.js";

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

describe.skipIf(!isRoot)(`report through the agent (${NEEDS_ROOT})`, { timeout: 120_000 }, () => {
  const sys = useSystem(["job", "outsider"]);
  let agent: RunningAgent;
  const report = (args: string[] = []) =>
    agent.run(["report", "--policy", agent.policy, "--audit", agent.audit, "--unread", "1d", ...args]);
  const read = (as: "job" | "outsider", name: string) => agent.run(["get", name], { as: sys.users[as] });

  beforeAll(async () => {
    agent = await sys.startAgent({
      policyText: `read user:${sys.users.job.name} *\nexpect user:${sys.users.job.name} HOURLY_KEY every=3s\n`,
      secrets: { HOURLY_KEY: "hourly-value-0123456789" },
    });
  });

  it("is quiet while the expected job reads its key, then names the job once it stops", async () => {
    expect((await read("job", "HOURLY_KEY")).code).toBe(0);
    const quiet = await report();
    expect(quiet.stderr).toBe("");
    expect(quiet.stdout).toBe("");
    expect(quiet.code).toBe(0);
    // The job stops: no more reads. Within its period and a quarter the report stays quiet; after it, it names the job.
    const deadline = Date.now() + 30_000;
    let r = quiet;
    while (r.code === 0 && Date.now() < deadline) r = await report();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `^HOURLY_KEY: user:${sys.users.job.name} is expected to read it every 3s \\(policy line 2\\), but last read it at \\S+ \\(last by ${sys.users.job.name}\\(${sys.users.job.uid}\\)\\): has its job stopped\\?\\n$`,
      ),
    );
    // It reads again: quiet again.
    expect((await read("job", "HOURLY_KEY")).code).toBe(0);
    expect((await report()).stdout).toBe("");
  });

  it("lists expired and expiring keys, refused reads with who and the program, and keys nobody reads", async () => {
    for (const [name, expires] of [
      ["OLD_KEY", day(-1)],
      ["SOON_KEY", day(3)],
    ] as const) {
      const add = await agent.run(["add", name, "--expires", expires], { input: "a-value-0123456789" });
      expect(add.code, add.stderr).toBe(0);
    }
    expect((await read("job", "HOURLY_KEY")).code).toBe(0);
    expect((await read("outsider", "HOURLY_KEY")).code).toBe(4);
    const r = await report(["--unread", "0s"]);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toContain(`OLD_KEY expired on ${day(-1)}`);
    expect(lines).toContain(`SOON_KEY expires on ${day(3)}`);
    expect(lines.find((l) => l.startsWith("HOURLY_KEY: 1 refused read since"))).toMatch(
      new RegExp(`: ${sys.users.outsider.name}\\(${sys.users.outsider.uid}\\) running secretfile get HOURLY_KEY$`),
    );
    expect(lines.some((l) => /^HOURLY_KEY has not been read by any job since \S+ \(last by /.test(l))).toBe(true);
    expect(lines.some((l) => /^OLD_KEY has not been read by any job since it was added/.test(l))).toBe(true);
    expect(r.stdout).not.toContain("a-value-0123456789");
    const json = await report(["--json"]);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { attention: boolean; findings: { name: string; kind: string }[] };
    expect(parsed.attention).toBe(true);
    expect(parsed.findings.map((f) => `${f.name}:${f.kind}`)).toEqual(
      expect.arrayContaining(["OLD_KEY:expired", "SOON_KEY:expiring", "HOURLY_KEY:refused"]),
    );
    // doctor shows the same findings.
    const doctor = await agent.run(["doctor", "--policy", agent.policy, "--audit", agent.audit]);
    expect(doctor.stdout).toMatch(/warn SOON_KEY expires on/);
    expect(doctor.stdout).toMatch(/warn HOURLY_KEY: 1 refused read since/);
  });

  it("fails with exit 6, not a finding, when the agent cannot be reached", async () => {
    const r = await agent.run(["report"], { env: { SECRETFILE_SOCKET: `${agent.socket}.none` } });
    expect(r.code).toBe(6);
  });
});
