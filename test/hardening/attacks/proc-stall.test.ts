// A caller's /proc that does not answer must not stall the agent (issue 12, hole 11). The FUSE technique of
// CVE-2018-1120 no longer blocks /proc/PID/cmdline on this kernel (it reads only anonymous memory since Linux 4.17,
// checked here with a raw FUSE file mapped over a command line: the read came back short, at once), so the test
// makes the agent's /proc reader stop the way a blocked read would look to the agent: it stops the helper process
// (SIGSTOP). The caller then being read gets its answer after the deadline with its program unknown, the helper is
// killed and replaced, and the other uids are served with their programs read as before.

import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem } from "../../helpers/system.js";
import { startAgentWith } from "./agents.js";

/** The pids of the children of `pid` (from each process's stat). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

const until = async (what: string, test: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.skipIf(!isRoot)(`a caller's /proc that does not answer (${NEEDS_ROOT})`, { timeout: 120_000 }, () => {
  const sys = useSystem(["slow", "other"]);

  it("answers that caller after the deadline with its program unknown, replaces the reader, and serves the others", async () => {
    const { slow, other } = sys.users;
    const agent = await startAgentWith(sys, {
      policyText: `read user:${slow.name} K\nread user:${other.name} K\n`,
      secrets: { K: "k-value" },
    });
    const env = { SECRETFILE_SOCKET: agent.socket };
    await until("the /proc reader", () => childrenOf(agent.pid).length === 1);
    // Once it has answered a first caller (it is ready), it is stopped.
    const first = await sys.world.run(["get", "K"], { as: other, env });
    expect(first.code, first.stderr).toBe(0);
    const [reader] = childrenOf(agent.pid);
    expect(readFileSync(`/proc/${reader}/cmdline`, "utf8")).toContain("-e");
    process.kill(reader!, "SIGSTOP");

    const stalled = await sys.world.run(["get", "K"], { as: slow, env });
    expect([stalled.code, stalled.stdout], stalled.stderr).toEqual([0, "k-value"]);
    await until("a new /proc reader", () => childrenOf(agent.pid).some((p) => p !== reader));
    expect(childrenOf(agent.pid)).not.toContain(reader);

    const served = await Promise.all([1, 2, 3].map(() => sys.world.run(["get", "K"], { as: other, env })));
    for (const r of served) expect([r.code, r.stdout], r.stderr).toEqual([0, "k-value"]);
    const again = await sys.world.run(["get", "K"], { as: slow, env });
    expect(again.code, again.stderr).toBe(0);

    const lines = readFileSync(agent.audit, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { pid?: number; op?: string; program?: string });
    const of = (pid: number) => lines.find((l) => l.pid === pid && l.op === "get");
    expect(of(stalled.pid)?.program).toBe("(unknown: /proc did not answer in 250 ms)");
    for (const r of served) expect(of(r.pid)?.program).toMatch(/node/);
    expect(of(again.pid)?.program).toBe(`(unknown: an earlier /proc read of uid ${slow.uid} took over 250 ms)`);
    expect(agent.stderr()).toContain(`the /proc reader did not answer for a caller of uid ${slow.uid}: restarting it`);
  });
});
