// System mode end to end: the agent's limit on connections open at once holds for the socket as a whole, although the
// agent listens on it through several handles (src/agent/listeners.ts); the one past the limit is dropped, the agent
// says so in its log, and a connection is served again once one closes.

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

const LIMIT = 20;

/** Connects and pings; resolves with the socket (kept open) and the answer, or with no answer when the agent closed it. */
function ping(socket: string): Promise<{ conn: net.Socket; answer: string | undefined }> {
  return new Promise((resolve) => {
    const conn = net.createConnection(socket);
    let data = "";
    conn.setEncoding("utf8");
    conn.on("connect", () => conn.write('{"v":1,"op":"ping"}\n'));
    conn.on("data", (d: string) => {
      data += d;
      if (data.includes("\n")) resolve({ conn, answer: data.trim() });
    });
    conn.on("error", () => undefined); // ECONNRESET when dropped: expected
    conn.on("close", () => resolve({ conn, answer: undefined }));
  });
}

describe.skipIf(!isRoot)(`system agent connection limit (${NEEDS_ROOT})`, () => {
  const sys = useSystem([]);
  let agent: AgentProcess | undefined;
  afterAll(async () => agent?.stop());

  it(`drops the connection past ${LIMIT} open at once, across all its listening handles, and serves again once one closes`, async () => {
    const files = await prepareAgent(sys.world, sys.users.service, { policyText: "", secrets: {} });
    agent = spawnAgent(sys.world, sys.users.service, files, { SECRETFILE_AGENT_LIMITS: `connections=${LIMIT}` });
    await untilReady(agent, files.socket);
    await new Promise((r) => setTimeout(r, 300)); // the readiness ping's connection closes: it counts no more

    const held = await Promise.all(Array.from({ length: LIMIT }, () => ping(files.socket)));
    expect(held.filter((h) => h.answer?.includes('"ok":true'))).toHaveLength(LIMIT);

    const extra = await ping(files.socket);
    expect(extra.answer).toBeUndefined();
    // Its log line comes through a pipe, maybe after the client has seen the close.
    for (let i = 0; i < 250 && !agent.stderr().includes("too many at once"); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(agent.stderr()).toContain("dropped a connection: too many at once");

    held[0]!.conn.destroy();
    let again: string | undefined;
    for (let i = 0; i < 100 && again === undefined; i++) {
      const next = await ping(files.socket);
      again = next.answer;
      next.conn.destroy();
      if (again === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(again).toContain('"ok":true');
    for (const h of held) h.conn.destroy();
  });
});
