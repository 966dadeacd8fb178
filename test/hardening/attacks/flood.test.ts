// Attack: one uid floods the agent (more connections than it may hold, pipelined and short-lived requests as fast
// as it can) to starve the others. The per-uid connection cap and token bucket refuse the excess with `busy` (and a
// time to retry), while another uid's requests keep being answered, and promptly.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { collect, isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, prepareAgent, useSystem, type TestUser } from "../../helpers/system.js";
import { scale } from "../../helpers/tier.js";
import { ready, spawnAgentWith, startAgentWith, type Agent } from "./agents.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const value = (tag: string) => `${tag}-${randomBytes(16).toString("hex")}`;

interface FloodResult {
  ok: number;
  busy: number;
  otherErrors: Record<string, number>;
  connectionsRefused: number;
  connectionErrors: number;
  retryAfterMs: number[];
  sent: number;
  /** From its first connection to its last answer. */
  elapsedMs: number;
}
type Probe = { ms: number; outcome: string }[];

/** The number of open file descriptors of `pid`. */
const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

describe.skipIf(!isRoot)(`one uid flooding the agent (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["flooder", "victim"]);
  const secrets = { A_ONE: value("a1"), A_TWO: value("a2"), A_THREE: value("a3"), B_KEY: value("b") };
  let policyText: string;

  /** Runs a fixture of this folder as `user` with `config`; resolves with its parsed output. */
  const runAs = async <T>(user: TestUser, script: string, config: object): Promise<T> => {
    const file = path.join(sys.world.root, script);
    cpSync(path.join(here, script), file);
    const r = await collect(
      spawn(NODE, [file, JSON.stringify(config)], { uid: user.uid, gid: user.gid, cwd: sys.world.root }),
      undefined,
      60_000,
    );
    if (r.code !== 0) throw new Error(`${script} as ${user.name} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };

  beforeAll(() => {
    const { flooder, victim } = sys.users;
    policyText = `read user:${flooder.name} A_ONE A_TWO A_THREE\nread user:${victim.name} B_KEY\n`;
  });

  it(
    "keeps answering another uid promptly while one uid floods past its connection and request limits",
    { timeout: 120_000 },
    async () => {
      const RATE = 300;
      const BURST = 600;
      const agent = await startAgentWith(
        sys,
        { policyText, secrets },
        { SECRETFILE_AGENT_LIMITS: `ratePerUid=${RATE},burstPerUid=${BURST},connectionsPerUid=64` },
      );
      const probe = (durationMs: number) =>
        runAs<Probe>(sys.users.victim, "probe.mjs", {
          socket: agent.socket,
          durationMs,
          intervalMs: 50,
          request: { v: 1, op: "get", name: "B_KEY" },
          expect: { ok: true, value: secrets.B_KEY },
        });
      const quiet = await probe(scale("SECRETFILE_FLOOD_QUIET_MS", 1_000, 2_000));
      const fdsBefore = openFds(agent.pid);

      const DURATION = scale("SECRETFILE_FLOOD_MS", 4_000, 6_000);
      const flood = runAs<FloodResult>(sys.users.flooder, "flood-load.mjs", {
        socket: agent.socket,
        durationMs: DURATION,
        connections: 100,
        window: 32,
        short: 8,
        request: { v: 1, op: "values" },
      });
      await new Promise((r) => setTimeout(r, 500));
      const during = await probe(DURATION - 1_000);
      const a = await flood;
      // Every refused connection is closed again: none left open against the global cap (where they would shut out
      // everyone). The agent's open files come back to what they were.
      let fdsAfter = openFds(agent.pid);
      for (let i = 0; i < 30 && fdsAfter > fdsBefore + 8; i++) {
        await new Promise((r) => setTimeout(r, 100));
        fdsAfter = openFds(agent.pid);
      }

      const figures = {
        flooder: a,
        agentFds: { before: fdsBefore, after: fdsAfter },
        victimQuiet: {
          n: quiet.length,
          p50: percentile(
            quiet.map((q) => q.ms),
            0.5,
          ),
          max: Math.max(...quiet.map((q) => q.ms)),
        },
        victimDuringFlood: {
          n: during.length,
          p50: percentile(
            during.map((q) => q.ms),
            0.5,
          ),
          p95: percentile(
            during.map((q) => q.ms),
            0.95,
          ),
          max: Math.max(...during.map((q) => q.ms)),
        },
      };
      console.log(`flood figures: ${JSON.stringify(figures)}`);

      // The flooder was held to its limits: refused connections past 64, and at most the burst plus the rate served.
      expect(a.connectionsRefused, "connections past the per-uid cap are refused").toBeGreaterThan(0);
      expect(a.busy, "requests past the rate are answered busy").toBeGreaterThan(0);
      expect(a.retryAfterMs.length).toBeGreaterThan(0);
      expect(
        a.retryAfterMs.every((ms) => Number.isInteger(ms) && ms >= 100 && ms <= 1_000),
        String(a.retryAfterMs),
      ).toBe(true);
      expect(a.ok, "served no more than the burst plus the rate").toBeLessThanOrEqual(
        BURST + (RATE * a.elapsedMs) / 1000 + 50,
      );
      expect(a.sent, "and it asked for far more").toBeGreaterThan(5 * (BURST + (RATE * a.elapsedMs) / 1000));
      expect(a.otherErrors).toEqual({});
      // The victim: every request answered with its value, none refused as busy, promptly.
      expect(
        during.filter((q) => q.outcome !== "ok"),
        "every victim request is served",
      ).toEqual([]);
      expect(during.length).toBeGreaterThan(20);
      expect(figures.victimDuringFlood.p50, "median latency during the flood").toBeLessThan(
        Math.max(250, 10 * figures.victimQuiet.p50),
      );
      expect(figures.victimDuringFlood.max, "worst latency during the flood").toBeLessThan(2_000);
      expect(fdsAfter, "connections left open after the flood").toBeLessThanOrEqual(fdsBefore + 8);
      expect(agent.stderr()).not.toContain("too many at once");
      expect(agent.alive(), agent.stderr()).toBe(true);
      await agent.stop();
    },
  );

  it(
    "with the default limits, serves a burst of 1,000 simultaneous requests from one uid without a busy answer",
    { timeout: 120_000 },
    async () => {
      const agent = await startAgentWith(sys, { policyText, secrets });
      const client = sys.world.fixture("agent-requests.mjs");
      const reqs = Array.from({ length: 1_000 }, () => ({ v: 1, op: "get", name: "A_ONE" }));
      const { flooder } = sys.users;
      const r = await collect(
        spawn(NODE, [client, agent.socket, JSON.stringify(reqs)], {
          uid: flooder.uid,
          gid: flooder.gid,
          cwd: sys.world.root,
        }),
        undefined,
        60_000,
      );
      expect(r.code, r.stderr).toBe(0);
      const results = JSON.parse(r.stdout) as {
        answer?: { ok: boolean; value?: string; error?: { code: string } };
        error?: string;
      }[];
      const bad = results.filter((x) => x.answer?.ok !== true || x.answer.value !== secrets.A_ONE);
      expect(bad.slice(0, 3)).toEqual([]);
      await agent.stop();
    },
  );

  it("refuses to start on a malformed SECRETFILE_AGENT_LIMITS (exit 2, naming the setting)", async () => {
    const files = await prepareAgent(sys.world, sys.users.service, { policyText });
    const agent: Agent = spawnAgentWith(sys, files, { SECRETFILE_AGENT_LIMITS: "ratePerUid=lots" });
    const end = await agent.exited;
    expect(end.code).toBe(2);
    expect(agent.stderr()).toContain("SECRETFILE_AGENT_LIMITS: ratePerUid must be a whole number");
    const ok = await ready(spawnAgentWith(sys, files, { SECRETFILE_AGENT_LIMITS: "ratePerUid=10, burstPerUid=20" }));
    await ok.stop();
  });
});
