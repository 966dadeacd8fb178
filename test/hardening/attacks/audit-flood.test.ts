// One uid no rule names tries to fill the audit log with refusals (issue 12, hole 3: 3,900 names of 128 characters a
// request made 224 MiB of log in 3 s). A refusal's line now keeps its first name and a count, and past its budget of
// audit bytes a minute the uid is answered `busy`; another uid is served throughout.

import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { collect, isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, request, useSystem } from "../../helpers/system.js";
import { startAgentWith } from "./agents.js";

const BUDGET = 64 * 1024;
const REQUESTS = 300;

/** The flooder: REQUESTS `values` requests of 3,900 names of 128 characters, 8 connections at a time; counts the answers. */
const FLOODER = `
const net = require("net");
const [socket, total] = [process.argv[1], Number(process.argv[2])];
const names = Array.from({ length: 3900 }, (_, i) => "N" + String(i).padStart(127, "0"));
const line = JSON.stringify({ v: 1, op: "values", names }) + "\\n";
const counts = {};
let sent = 0;
const one = () => new Promise((resolve) => {
  const c = net.createConnection(socket);
  let got = "";
  c.on("connect", () => c.write(line));
  c.on("data", (d) => { got += d; if (got.includes("\\n")) c.destroy(); });
  c.on("close", () => { let code = "dropped"; try { const a = JSON.parse(got); code = a.ok ? "ok" : a.error.code; } catch {} counts[code] = (counts[code] || 0) + 1; resolve(); });
  c.on("error", () => undefined);
});
const worker = async () => { while (sent < total) { sent++; await one(); } };
Promise.all(Array.from({ length: 8 }, worker)).then(() => process.stdout.write(JSON.stringify(counts)));
`;

describe.skipIf(!isRoot)(
  `a uid no rule names floods the audit log with refusals (${NEEDS_ROOT})`,
  { timeout: 180_000 },
  () => {
    const sys = useSystem(["stranger", "reader"]);

    it("writes a bounded line per refusal, answers busy past the uid's budget, and keeps serving another uid", async () => {
      const { stranger, reader } = sys.users;
      const agent = await startAgentWith(
        sys,
        { policyText: `read user:${reader.name} R_KEY\n`, secrets: { R_KEY: "r-value" } },
        { SECRETFILE_AGENT_LIMITS: `auditBytesPerUid=${BUDGET}` },
      );
      const start = statSync(agent.audit).size;
      const flood = await collect(
        spawn(NODE, ["-e", FLOODER, agent.socket, String(REQUESTS)], {
          uid: stranger.uid,
          gid: stranger.gid,
          cwd: sys.world.root,
        }),
        undefined,
        150_000,
      );
      expect(flood.code, flood.stderr).toBe(0);
      const counts = JSON.parse(flood.stdout) as Record<string, number>;
      console.info(
        `[attacks] audit flood figures: ${JSON.stringify({ counts, logBytes: statSync(agent.audit).size - start, budget: BUDGET })}`,
      );
      expect(counts.denied).toBeGreaterThan(0);
      expect(counts.busy).toBeGreaterThan(0);
      expect((counts.denied ?? 0) + (counts.busy ?? 0)).toBe(REQUESTS);

      const lines = readFileSync(agent.audit, "utf8")
        .split("\n")
        .filter((l) => l.includes(`"uid":${stranger.uid}`) && l.includes('"op":"values"'));
      expect(lines.length).toBe(counts.denied);
      for (const l of lines) {
        expect(l.length).toBeLessThan(4096); // the command line is cut at 1,024 characters, the name list at one
        expect(JSON.parse(l)).toMatchObject({
          op: "values",
          allowed: false,
          names: ["N" + "0".repeat(127)],
          omitted: 3899,
        });
      }
      // The whole flood cost at most the budget and a line more per connection in flight (a line is charged once written).
      expect(statSync(agent.audit).size - start).toBeLessThan(BUDGET + 8 * 4096);
      const budgetEvents = readFileSync(agent.audit, "utf8")
        .split("\n")
        .filter((l) => l.includes('"event":"audit-budget"'));
      expect(budgetEvents).toHaveLength(1);

      // Another uid is not held to the flooder's budget.
      const asReader = await sys.world.run(["get", "R_KEY"], { as: reader, env: { SECRETFILE_SOCKET: agent.socket } });
      expect([asReader.code, asReader.stdout], asReader.stderr).toEqual([0, "r-value"]);
      // Root's ping is answered too (no audit line, no budget).
      expect((await request(agent.socket, { v: 1, op: "ping" })).ok).toBe(true);
    });
  },
);
