// One writer floods the agent with changes held for approval (issue 26, finding 3: 2,000 held `add`s of 65 KB in 11 s
// made 133 MB on disk and the agent grew from 48 to 252 MB; restarted, it read every value before answering, so root's
// `pending` timed out and a job's `get` waited to its deadline). Past its limit the writer is refused (exit 1),
// audited once; the disk and the agent's memory stay bounded; an agent restarted on many pending changes lists them
// without reading a value, and answers a job meanwhile. Root only (it makes users); skipped with the reason otherwise.

import { spawn } from "node:child_process";
import { cpSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { collect, isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, rssKiB, useSystem, type TestUser } from "../../helpers/system.js";
import { scale } from "../../helpers/tier.js";
import { ready, spawnAgentWith, startAgentWith, type Agent } from "./agents.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** A value just under the largest the agent takes, as in the finding. */
const VALUE_BYTES = 65_000;
/** The default limit of pending changes of one requester (src/agent/limits.ts). */
const PER_UID = 32;

interface Flood {
  codes: Record<string, number>;
  first: Record<string, { message: string; hint?: string }>;
}

describe.skipIf(!isRoot)(`a writer floods the agent with held changes (${NEEDS_ROOT})`, { timeout: 300_000 }, () => {
  const sys = useSystem(["writer", "other", "reader"]);
  const spec = () => ({
    policyText: [
      `write user:${sys.users.writer.name} FLOOD_*`,
      `write user:${sys.users.other.name} FLOOD_*`,
      `read user:${sys.users.reader.name} R_KEY`,
      `approve 2 user:${sys.users.writer.name} user:${sys.users.other.name} FLOOD_*`,
      "",
    ].join("\n"),
    secrets: { R_KEY: "r-value" },
  });

  const flood = async (agent: Agent, user: TestUser, count: number, prefix: string): Promise<Flood> => {
    const file = path.join(sys.world.root, "pending-flood.mjs");
    cpSync(path.join(here, "pending-flood.mjs"), file);
    const config = { socket: agent.socket, count, parallel: 8, valueBytes: VALUE_BYTES, prefix };
    const r = await collect(
      spawn(NODE, [file, JSON.stringify(config)], { uid: user.uid, gid: user.gid, cwd: sys.world.root }),
      undefined,
      240_000,
    );
    if (r.code !== 0) throw new Error(`pending-flood.mjs as ${user.name} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as Flood;
  };
  const cli = (agent: Agent, args: string[], as?: TestUser, input?: string) =>
    sys.world.run(args, { as, input, env: { SECRETFILE_SOCKET: agent.socket, SECRETFILE_TIMEOUT: "10" } });
  const pendingBytes = (agent: Agent) => {
    const dir = path.join(agent.dir, "pending");
    return readdirSync(dir).reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
  };
  const auditOf = (agent: Agent, uid: number, prefix: string) =>
    readFileSync(agent.audit, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { uid?: number; reason?: string })
      .filter((l) => l.uid === uid && l.reason?.startsWith(prefix) === true);

  it("refuses the writer past its limit (exit 1, one audit line), keeps disk and memory bounded, and serves the others", async () => {
    const agent = await startAgentWith(sys, spec());
    const rssBefore = rssKiB(agent.pid);
    const count = scale("SECRETFILE_PENDING_FLOOD", 200, 2_000);
    const started = Date.now();
    const got = await flood(agent, sys.users.writer, count, "FLOOD_W");
    const rssAfter = rssKiB(agent.pid);
    console.info(
      `[attacks] pending flood figures: ${JSON.stringify({ count, codes: got.codes, ms: Date.now() - started, pendingBytes: pendingBytes(agent), rssKiB: [rssBefore, rssAfter] })}`,
    );
    expect(got.codes).toEqual({ pending: PER_UID, failure: count - PER_UID });
    expect(got.first.failure!.message).toMatch(
      new RegExp(
        `: ${sys.users.writer.name} \\(uid ${sys.users.writer.uid}\\) has ${PER_UID} pending changes, the most one requester may have$`,
      ),
    );
    expect(got.first.failure!.hint).toMatch(/secretfile reject ID/);
    // Disk: the held changes alone, values sealed. Memory: what the refused requests left to the garbage collector
    // (their lines and values, never kept), far from the hundreds of MiB the values would take if held in memory.
    expect(pendingBytes(agent)).toBeLessThan(PER_UID * (VALUE_BYTES + 4096));
    expect(rssAfter - rssBefore).toBeLessThan(96 * 1024);
    const writer = sys.users.writer.uid;
    expect(auditOf(agent, writer, "held for approval")).toHaveLength(PER_UID);
    expect(auditOf(agent, writer, "refused: the change was not kept for approval")).toHaveLength(1);

    // Through the CLI: exit 1 with the message and its hint, for the writer; the other writer and the reader are served.
    const refused = await cli(agent, ["add", "FLOOD_CLI"], sys.users.writer, "v");
    expect([refused.code, refused.stderr]).toEqual([
      1,
      expect.stringMatching(
        /secretfile: error: the change was not kept for approval: add FLOOD_CLI: .*\nsecretfile: hint: /,
      ),
    ]);
    expect((await cli(agent, ["add", "FLOOD_OTHER"], sys.users.other, "v")).code).toBe(7);
    const get = await cli(agent, ["get", "R_KEY"], sys.users.reader);
    expect([get.code, get.stdout], get.stderr).toEqual([0, "r-value"]);
  });

  it("restarted on many pending changes, lists them without reading a value and answers a job's get within its deadline", async () => {
    const count = scale("SECRETFILE_PENDING_RESTART", 400, 2_000);
    const env = {
      SECRETFILE_AGENT_LIMITS: `pending=${count},pendingPerUid=${count},pendingBytes=1000000000,pendingBytesPerUid=1000000000`,
    };
    const first = await startAgentWith(sys, spec(), env);
    expect((await flood(first, sys.users.writer, count, "FLOOD_R")).codes).toEqual({ pending: count });
    first.kill("SIGKILL");
    await first.exited;
    const agent = await ready(spawnAgentWith(sys, first, env));
    const rssBefore = rssKiB(agent.pid);
    // Root lists every change while a job reads: the job is answered within its client's deadline, and so is root.
    const [listed, get] = await Promise.all([
      cli(agent, ["pending", "--json"]),
      new Promise((r) => setTimeout(r, 5)).then(() => cli(agent, ["get", "R_KEY"], sys.users.reader)),
    ]);
    const rssAfter = rssKiB(agent.pid);
    console.info(
      `[attacks] pending restart figures: ${JSON.stringify({ count, valueBytes: count * VALUE_BYTES, rssKiB: [rssBefore, rssAfter] })}`,
    );
    expect([get.code, get.stdout], get.stderr).toEqual([0, "r-value"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveLength(count);
    // No value was read: the agent grew by far less than the values it keeps on disk.
    expect((rssAfter - rssBefore) * 1024).toBeLessThan((count * VALUE_BYTES) / 2);
  });
});
