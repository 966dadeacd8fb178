// SIGHUP: the agent reads its policy again and keeps serving (before, SIGHUP killed it, and with it an agent started
// by hand in an SSH session that ended). An invalid policy on reload fails closed (every uid but root refused) and is
// audited as an event; the systemd unit's ExecReload= sends the same signal.

import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem, writePolicy } from "../../helpers/system.js";

describe.skipIf(!isRoot)(`system mode: SIGHUP (${NEEDS_ROOT})`, { timeout: 120_000 }, () => {
  const sys = useSystem(["job"]);

  it("reloads the policy and stays up; an invalid one refuses all but root, audited; a fixed one serves again", async () => {
    const { job } = sys.users;
    const first = `read user:${job.name} A_KEY\n`;
    const agent = await sys.startAgent({ policyText: first, secrets: { A_KEY: "a-value", B_KEY: "b-value" } });
    const events = () => agent.auditLines().filter((l) => l.event === "policy-reload");
    const hup = async () => {
      const before = events().length;
      agent.kill("SIGHUP");
      for (let i = 0; i < 200 && events().length === before && agent.alive(); i++)
        await new Promise((r) => setTimeout(r, 25));
    };

    await hup();
    expect(agent.alive(), agent.stderr()).toBe(true);
    expect(events().at(-1)).toMatchObject({ ok: true, signal: "SIGHUP" });
    expect(agent.stderr()).toContain("reloaded the policy");

    writePolicy(agent.policy, `${first}read user:${job.name} B_KEY\n`);
    await hup();
    const b = await agent.run(["get", "B_KEY"], { as: job });
    expect([b.code, b.stdout], b.stderr).toEqual([0, "b-value"]);

    writePolicy(agent.policy, `${first}this line is not a rule\n`);
    await hup();
    expect(agent.alive()).toBe(true);
    expect(events().at(-1)).toMatchObject({ ok: false, signal: "SIGHUP" });
    const refused = await agent.run(["get", "A_KEY"], { as: job });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain("until the policy is fixed");
    const root = await agent.run(["get", "A_KEY"]);
    expect([root.code, root.stdout], root.stderr).toEqual([0, "a-value"]);

    writePolicy(agent.policy, first);
    await hup();
    const a = await agent.run(["get", "A_KEY"], { as: job });
    expect([a.code, a.stdout], a.stderr).toEqual([0, "a-value"]);
    expect(agent.alive()).toBe(true);
    await agent.stop();
  });
});
