// The load generator: N connections at once from one process, each request a fresh connection (connect, send one
// `get` line, read the answer, close), as the CLI does. Rules: loops are bounded in time; a request still unanswered
// 10 s after its window ends is counted as an error; only Unix sockets on this machine are targeted.
// Usage: node bench/load.mjs CONFIG.json  → prints one JSON result on standard output.
// CONFIG: { targets: [{ label, socket, names }], concurrency, warmupMs, windowMs, windows }

import { readFileSync } from "node:fs";
import net from "node:net";
import { latencyPercentiles, summarize } from "./stats.mjs";

const STRAGGLER_MS = 10_000;
const OK = Buffer.from('{"ok":true');

/** Sends one request on a new connection; resolves with { ms, error? }. */
function one(socket, line, inflight) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const conn = net.createConnection(socket);
    let head = Buffer.alloc(0);
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      inflight.delete(conn);
      conn.destroy();
      resolve({ ms: performance.now() - t0, error });
    };
    inflight.set(conn, finish);
    conn.on("connect", () => conn.write(line));
    conn.on("data", (chunk) => {
      if (head.length < OK.length) head = Buffer.concat([head, chunk]);
      if (chunk.includes(0x0a)) finish(head.subarray(0, OK.length).equals(OK) ? undefined : "answer not ok");
    });
    conn.on("error", (err) => finish(err.code ?? err.message));
    conn.on("close", () => finish("closed without an answer"));
  });
}

/** Runs `concurrency` workers against `target` for `ms`; returns { completed, errors, elapsedMs, latencies }. */
async function window(target, concurrency, ms) {
  const inflight = new Map();
  const latencies = [];
  const errors = {};
  let completed = 0;
  let failed = 0;
  const t0 = performance.now();
  const stopAt = t0 + ms;
  const lines = target.names.map((name) => `${JSON.stringify({ v: 1, op: "get", name })}\n`);
  const watchdog = setTimeout(() => {
    for (const finish of inflight.values()) finish("no answer 10 s after the window");
  }, ms + STRAGGLER_MS);
  const worker = async (w) => {
    for (let i = w; performance.now() < stopAt; i += concurrency) {
      const r = await one(target.socket, lines[i % lines.length], inflight);
      if (r.error === undefined) {
        completed++;
        latencies.push(r.ms);
      } else {
        failed++;
        errors[r.error] = (errors[r.error] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  clearTimeout(watchdog);
  return { completed, failed, errors, elapsedMs: performance.now() - t0, latencies };
}

async function main() {
  const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
  const { targets, concurrency, warmupMs, windowMs, windows } = config;
  const acc = new Map(
    targets.map((t) => [t.label, { windows: [], latencies: [], errors: {}, completed: 0, failed: 0 }]),
  );
  for (const t of targets) await window(t, concurrency, warmupMs);
  for (let r = 0; r < windows; r++) {
    // Alternate the order, so neither target always runs right after the other.
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const w = await window(t, concurrency, windowMs);
      const a = acc.get(t.label);
      a.windows.push({
        rps: (w.completed / w.elapsedMs) * 1000,
        completed: w.completed,
        failed: w.failed,
        elapsedMs: w.elapsedMs,
      });
      for (const ms of w.latencies) a.latencies.push(ms);
      for (const [k, v] of Object.entries(w.errors)) a.errors[k] = (a.errors[k] ?? 0) + v;
      a.completed += w.completed;
      a.failed += w.failed;
    }
  }
  const out = {};
  for (const [label, a] of acc) {
    out[label] = {
      concurrency,
      rps: summarize(a.windows.map((w) => w.rps)),
      latencyMs: latencyPercentiles(a.latencies),
      completed: a.completed,
      failed: a.failed,
      errors: a.errors,
      windows: a.windows,
    };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  process.stderr.write(`load generator: ${err?.stack ?? err}\n`);
  process.exit(1);
});
