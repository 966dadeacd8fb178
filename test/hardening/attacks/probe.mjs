// A well-behaved client for the starvation test, run under another uid: every INTERVAL ms for DURATION ms, one
// request on a fresh connection, as a cron job's `secretfile get` would; prints each answer's latency and outcome.
// usage: node probe.mjs CONFIG_JSON   CONFIG: {socket, durationMs, intervalMs, request, expect: {field: value}}
import net from "node:net";

const cfg = JSON.parse(process.argv[2]);
const results = [];
const ask = () =>
  new Promise((resolve) => {
    const t0 = performance.now();
    const sock = net.createConnection(cfg.socket);
    let carry = "";
    const timer = setTimeout(() => sock.destroy(), 10_000);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.end(`${JSON.stringify(cfg.request)}\n`));
    sock.on("data", (d) => (carry += d));
    sock.on("error", () => undefined);
    sock.on("close", () => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      let outcome = "no answer";
      try {
        const a = JSON.parse(carry.split("\n")[0]);
        outcome = Object.entries(cfg.expect).every(([k, v]) => a[k] === v) ? "ok" : (a.error?.code ?? "wrong answer");
      } catch {
        // outcome stays "no answer"
      }
      results.push({ ms: Math.round(ms * 10) / 10, outcome });
      resolve();
    });
  });

const stopAt = Date.now() + cfg.durationMs;
while (Date.now() < stopAt) {
  const next = Date.now() + cfg.intervalMs;
  await ask();
  await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
}
process.stdout.write(`${JSON.stringify(results)}\n`);
