// The reference server: the agent's framing and nothing else (no peer credentials, policy, store or audit), so the
// load test shows how far the agent is from what one Node process and this load generator can do on this machine.
// Usage: node bench/null-server.mjs SOCKET   (answers each request line with a fixed value; SIGTERM stops it)

import { chmodSync, rmSync } from "node:fs";
import net from "node:net";

const socket = process.argv[2];
if (!socket) {
  process.stderr.write("usage: node bench/null-server.mjs SOCKET\n");
  process.exit(2);
}
const VALUE = "x".repeat(43);
rmSync(socket, { force: true });
const server = net.createServer({ allowHalfOpen: true }, (conn) => {
  let buf = "";
  conn.setEncoding("utf8");
  conn.on("error", () => undefined);
  conn.on("data", (d) => {
    buf += d;
    for (let nl = buf.indexOf("\n"); nl !== -1; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let req;
      try {
        req = JSON.parse(line);
      } catch {
        conn.end('{"ok":false,"error":{"code":"usage","message":"not JSON"}}\n');
        return;
      }
      const answer =
        req.op === "ping"
          ? { ok: true, op: "ping", agent: "reference", version: 1 }
          : { ok: true, op: "get", value: VALUE };
      conn.write(`${JSON.stringify(answer)}\n`);
    }
  });
  conn.on("end", () => conn.end());
});
server.listen(socket, () => chmodSync(socket, 0o666));
process.once("SIGTERM", () => server.close(() => process.exit(0)));
