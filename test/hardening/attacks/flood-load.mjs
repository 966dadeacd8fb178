// A flooding client for the starvation test, run under one test user's uid: for DURATION ms it keeps CONNECTIONS
// connections open, each pipelining requests (WINDOW unanswered at a time), and SHORT workers opening, asking and
// closing connections as fast as they can; it counts what the agent answered and prints a JSON summary.
// usage: node flood-load.mjs CONFIG_JSON   CONFIG: {socket, durationMs, connections, window, short, request}
import net from "node:net";

const cfg = JSON.parse(process.argv[2]);
const line = `${JSON.stringify(cfg.request)}\n`;
const startedAt = Date.now();
const stopAt = startedAt + cfg.durationMs;
const out = { ok: 0, busy: 0, otherErrors: {}, connectionsRefused: 0, connectionErrors: 0, retryAfterMs: [], sent: 0 };
const count = (text) => {
  let a;
  try {
    a = JSON.parse(text);
  } catch {
    out.otherErrors.unparsable = (out.otherErrors.unparsable ?? 0) + 1;
    return;
  }
  if (a.ok) out.ok++;
  else if (a.error?.code === "busy") {
    out.busy++;
    if (out.retryAfterMs.length < 5) out.retryAfterMs.push(a.error.retryAfterMs);
  } else out.otherErrors[a.error?.code] = (out.otherErrors[a.error?.code] ?? 0) + 1;
};

function long() {
  return new Promise((resolve) => {
    const sock = net.createConnection(cfg.socket);
    let waiting = 0;
    let carry = "";
    const pump = () => {
      if (Date.now() >= stopAt) {
        if (waiting === 0) sock.end();
        return;
      }
      const n = cfg.window - waiting;
      if (n > 0) {
        sock.write(line.repeat(n));
        waiting += n;
        out.sent += n;
      }
    };
    sock.setEncoding("utf8");
    sock.on("connect", pump);
    sock.on("data", (d) => {
      carry += d;
      let nl;
      while ((nl = carry.indexOf("\n")) !== -1) {
        count(carry.slice(0, nl));
        carry = carry.slice(nl + 1);
        waiting--;
      }
      pump();
    });
    sock.on("error", () => out.connectionErrors++);
    sock.on("close", () => {
      // A connection refused at once (too many for this uid) is replaced while the flood lasts.
      if (Date.now() < stopAt) {
        out.connectionsRefused++;
        setTimeout(() => long().then(resolve), 5);
      } else resolve();
    });
  });
}

async function short() {
  while (Date.now() < stopAt) {
    await new Promise((resolve) => {
      const sock = net.createConnection(cfg.socket);
      let carry = "";
      sock.setEncoding("utf8");
      sock.on("connect", () => {
        sock.end(line);
        out.sent++;
      });
      sock.on("data", (d) => (carry += d));
      sock.on("error", () => out.connectionErrors++);
      sock.on("close", () => {
        for (const l of carry.split("\n")) if (l !== "") count(l);
        resolve();
      });
    });
  }
}

await Promise.all([...Array.from({ length: cfg.connections }, long), ...Array.from({ length: cfg.short }, short)]);
out.elapsedMs = Date.now() - startedAt;
process.stdout.write(`${JSON.stringify(out)}\n`);
