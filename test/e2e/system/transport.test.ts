// The CLI's exchange with the agent, through the native addon (a blocking connect, send and read) and through the
// fallback without it (SECRETFILE_NATIVE=0: node:net), against a stand-in agent on a real socket: the same answer,
// the same error (exit 6) when the agent closes without answering, and an answer split across many reads put back
// together. (No socket at all is test/hardening/faults/client-retry.test.ts: a 5 s wait.)

import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, runCli, tempDir } from "../../helpers/cli.js";

const tmp = tempDir("secretfile-transport-");
afterAll(() => tmp.cleanup());

/** A stand-in agent: `answer(request)` returns the bytes to send back, in pieces, or null to close without answering. */
function standIn(
  socket: string,
  answer: (request: { op: string; name?: string }) => string | null,
): Promise<net.Server> {
  const server = net.createServer((conn) => {
    let text = "";
    conn.on("data", (d) => {
      text += d.toString();
      if (!text.includes("\n")) return;
      const out = answer(JSON.parse(text.slice(0, text.indexOf("\n"))) as { op: string; name?: string });
      if (out === null) return void conn.destroy();
      // In pieces, so the client must put the answer back together.
      const pieces = out.match(/[\s\S]{1,7}/g) ?? [];
      const next = () => (pieces.length === 0 ? conn.end() : conn.write(pieces.shift()!, () => setImmediate(next)));
      next();
    });
  });
  return new Promise((resolve) => server.listen(socket, () => resolve(server)));
}

describe.each([
  ["the native addon", {}],
  ["node:net (SECRETFILE_NATIVE=0)", { SECRETFILE_NATIVE: "0" }],
] as const)("the agent client through %s", (_how, extraEnv) => {
  const socket = path.join(tmp.dir, `agent-${Object.keys(extraEnv).length}.sock`);
  let server: net.Server;
  beforeAll(async () => {
    server = await standIn(socket, (req) =>
      req.name === "SILENT"
        ? null
        : `${JSON.stringify({ ok: true, op: "get", value: `value of ${req.name} ${"x".repeat(100_000)}` })}\n`,
    );
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const get = (name: string, sock = socket) =>
    // A read the agent closed without answering is sent again until the deadline: 1 s here, not the 5 s restart wait.
    runCli(["get", "--socket", sock, name], { env: cleanEnv({ HOME: tmp.dir, SECRETFILE_TIMEOUT: "1", ...extraEnv }) });

  it("gets the whole answer, sent in many small pieces", async () => {
    const r = await get("SOME_KEY");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`value of SOME_KEY ${"x".repeat(100_000)}`);
  });

  it("is exit 6 naming the socket when the agent closes without answering", async () => {
    const r = await get("SILENT");
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`the agent at ${socket} closed the connection without answering`);
    expect(r.stdout).toBe("");
  });
});
