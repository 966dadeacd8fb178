// System mode end to end: on SIGTERM (systemctl stop, the restart of an upgrade) the agent answers and audits every
// connection it has accepted, on whichever of its listening handles (src/agent/listeners.ts) it came in, then exits.

import { readFileSync } from "node:fs";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import {
  NEEDS_ROOT,
  prepareAgent,
  spawnAgent,
  untilReady,
  useSystem,
  type AgentProcess,
} from "../../helpers/system.js";

const OPEN = 24;

/** Connects and resolves once connected, with a function that sends LINE and resolves with the answer (or undefined). */
function connect(socket: string): Promise<(line: string) => Promise<string | undefined>> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let data = "";
    let closed = false;
    const waiters: ((a: string | undefined) => void)[] = [];
    conn.setEncoding("utf8");
    conn.on("data", (d: string) => {
      data += d;
      if (data.includes("\n")) waiters.splice(0).forEach((w) => w(data.trim()));
    });
    conn.on("error", () => undefined);
    conn.on("close", () => {
      closed = true;
      waiters.splice(0).forEach((w) => w(data.includes("\n") ? data.trim() : undefined));
    });
    conn.once("connect", () =>
      resolve(
        (line) =>
          new Promise((done) => {
            if (closed) {
              done(undefined);
              return;
            }
            waiters.push(done);
            conn.end(line);
          }),
      ),
    );
    conn.once("error", reject);
  });
}

describe.skipIf(!isRoot)(`system agent stopping (${NEEDS_ROOT})`, () => {
  const sys = useSystem([]);
  let agent: AgentProcess | undefined;
  afterAll(async () => agent?.stop());

  it(`answers all ${OPEN} connections open when SIGTERM comes, then exits 0`, async () => {
    const files = await prepareAgent(sys.world, sys.users.service, { policyText: "", secrets: { K: "the-value" } });
    agent = spawnAgent(sys.world, sys.users.service, files);
    await untilReady(agent, files.socket);
    const open = await Promise.all(Array.from({ length: OPEN }, () => connect(files.socket)));
    await new Promise((r) => setTimeout(r, 300)); // every connection accepted, on one handle or another
    agent.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    // One after another, the last connected first: the agent must not close its audit log while one is still open. (The
    // first listening handle takes the connections accepted last in a turn; when they were the last answered, the
    // agent waiting for that handle alone passed this test.)
    const answers: (string | undefined)[] = [];
    for (const send of [...open].reverse()) answers.push(await send('{"v":1,"op":"get","name":"K"}\n'));
    expect(answers.filter((a) => a === undefined || !a.includes('"ok":true'))).toEqual([]);
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    // Each read in the audit log, before the agent's stop.
    const records = readFileSync(files.audit, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event?: string; op?: string });
    const events = records.map((r) => r.event ?? r.op);
    expect(events).toEqual(["start", ...Array<string>(OPEN).fill("get"), "stop"]);
  });
});
