// A uid over its limits is answered `busy` with a time to retry (docs/protocol.md): the CLI waits that long, plus a
// random share, and asks again, for about 2 s at most, so a burst of cron jobs of one user all get their keys.

import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { collect, isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, useSystem } from "../../helpers/system.js";
import { startAgentWith } from "../../hardening/attacks/agents.js";

/** One connection at a time per uid: while one is open, every other of that uid is answered `busy` at once. */
const LIMITS = "connectionsPerUid=1";
const CLIENTS = 6;
/** How long the test holds the uid's one connection after starting the clients (well under the CLI's 2 s of retries). */
const HOLD_MS = 1_200;

/** A process of `uid` that holds one connection to `socket` open until its standard input closes. */
const HOLDER = `
const conn = require("node:net").createConnection(process.argv[1]);
conn.on("connect", () => process.stdout.write("held\\n"));
conn.on("error", (e) => { process.stderr.write(String(e)); process.exit(1); });
process.stdin.resume().on("end", () => conn.destroy());`;

describe.skipIf(!isRoot)(`clients of an agent that answers busy (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job"]);
  const value = `busy-${randomBytes(16).toString("hex")}`;

  it(
    `serves ${CLIENTS} simultaneous \`get\`s of a uid that is at its connection limit, each after retrying`,
    { timeout: 120_000 },
    async () => {
      const { job } = sys.users;
      const agent = await startAgentWith(
        sys,
        { policyText: `read user:${job.name} KEY\n`, secrets: { KEY: value } },
        { SECRETFILE_AGENT_LIMITS: LIMITS },
      );
      const holder = spawn(NODE, ["-e", HOLDER, agent.socket], {
        uid: job.uid,
        gid: job.gid,
        cwd: sys.world.root,
        stdio: ["pipe", "pipe", "inherit"],
      });
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once("data", () => resolve());
        holder.once("exit", (code) => reject(new Error(`the holder ended (${code}) before connecting`)));
      });

      // While the connection is held, a request of that uid is answered busy, with a time to retry.
      const raw = await collect(
        spawn(
          NODE,
          [sys.world.fixture("agent-requests.mjs"), agent.socket, JSON.stringify([{ v: 1, op: "get", name: "KEY" }])],
          { uid: job.uid, gid: job.gid, cwd: sys.world.root },
        ),
      );
      const [first] = JSON.parse(raw.stdout) as {
        answer?: { ok: boolean; error?: { code: string; retryAfterMs?: number } };
      }[];
      expect(first?.answer?.error?.code, raw.stdout).toBe("busy");
      expect(first?.answer?.error?.retryAfterMs).toBeGreaterThan(0);

      // Clients of that uid started meanwhile: each is refused until the connection is let go, and then served.
      const runs = Promise.all(
        Array.from({ length: CLIENTS }, () =>
          sys.world.run(["get", "--socket", agent.socket, "KEY"], { as: job, timeoutMs: 60_000 }),
        ),
      );
      setTimeout(() => holder.stdin.end(), HOLD_MS);
      const failed = (await runs).filter((r) => r.code !== 0 || r.stdout !== value);
      expect(failed.map((r) => `${r.code}: ${r.stderr.trim()}`)).toEqual([]);
      await agent.stop();
    },
  );
});
