// An agent that takes a connection and closes it without answering, as one that is stopping (a restart, an upgrade)
// may: a request that only reads is sent again and served by the agent that follows; a write is never sent twice.

import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, runCli, tempDir } from "../helpers/cli.js";

const tmp = tempDir("secretfile-closed-early-");
const socket = path.join(tmp.dir, "agent.sock");
/** How many of the next connections to close unanswered once their request has arrived. */
let toDrop = 0;
/** Every request line received, in order. */
const received: string[] = [];
let server: net.Server;

beforeAll(async () => {
  server = net.createServer((conn) => {
    let text = "";
    conn.on("data", (d) => {
      text += d.toString("utf8");
      if (!text.includes("\n")) return;
      const request = JSON.parse(text.slice(0, text.indexOf("\n"))) as { op: string };
      received.push(request.op);
      if (toDrop > 0) {
        toDrop--;
        conn.destroy();
        return;
      }
      conn.end(
        `${JSON.stringify(request.op === "get" ? { ok: true, op: "get", value: "v" } : { ok: true, op: request.op })}\n`,
      );
    });
    conn.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  tmp.cleanup();
});

describe.each([
  ["the native exchange", {}],
  ["node:net", { SECRETFILE_NATIVE: "0" }],
])("a connection closed without an answer, through %s", (_, extra) => {
  const env = () => cleanEnv({ SECRETFILE_SOCKET: socket, ...extra });

  it("a read (get) is sent again and gets its answer", async () => {
    received.length = 0;
    toDrop = 2;
    const r = await runCli(["get", "K"], { env: env() });
    expect([r.code, r.stdout], r.stderr).toEqual([0, "v"]);
    expect(received).toEqual(["get", "get", "get"]);
  });

  it("a write (add) is sent once: exit 6, saying it may have been carried out", async () => {
    received.length = 0;
    toDrop = 1;
    const r = await runCli(["add", "K"], { env: env(), input: "value-0xfeed\n" });
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain("closed the connection without answering");
    expect(r.stderr).toContain("may or may not have been carried out");
    expect(r.stderr).not.toContain("value-0xfeed");
    expect(received).toEqual(["add"]);
  });
});
