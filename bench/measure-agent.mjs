// Measurements 2, 3 and the agent's half of 6: requests per second and latency under 1, 16 and 256 connections, the
// burst of 200 jobs, and the agent's memory. Rules: the load generator is one process (bench/load.mjs) run as the
// client user; the burst is paired with a burst of `node -e 0` round by round; every failed job is counted.

import { spawn } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ask } from "./agents.mjs";
import { commands } from "./measure-startup.mjs";
import { burst, memoryOf, sleep } from "./procs.mjs";
import { pairedRatio, summarize } from "./stats.mjs";

const LOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), "load.mjs");
const BURST = 200;

/** Samples VmRSS of `pids` every 100 ms until stopped; returns { stop(): { pid: { peakRssKiB, samples } } }. */
function sampler(pids) {
  const peak = new Map(pids.map((p) => [p, { peakRssKiB: 0, samples: 0 }]));
  const timer = setInterval(() => {
    for (const pid of pids) {
      const m = memoryOf(pid);
      if (m === undefined) continue;
      const p = peak.get(pid);
      p.samples++;
      if (m.rss > p.peakRssKiB) p.peakRssKiB = m.rss;
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return Object.fromEntries(peak);
    },
  };
}

/** Runs bench/load.mjs as the client user with `config`; resolves with its parsed result. */
function runLoad(ctx, config, timeoutMs) {
  const file = path.join(ctx.base, `load-${config.concurrency}.json`);
  writeFileSync(file, JSON.stringify(config));
  chmodSync(file, 0o644);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD, file], {
      env: ctx.env,
      cwd: ctx.base,
      stdio: ["ignore", "pipe", "pipe"],
      ...(ctx.caller.as ? { uid: ctx.caller.as.uid, gid: ctx.caller.as.gid } : {}),
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0)
        return reject(new Error(`the load generator ended with ${code ?? signal}: ${err.trim().slice(0, 600)}`));
      try {
        resolve(JSON.parse(out));
      } catch (e) {
        reject(new Error(`the load generator printed no result: ${String(e)}`));
      }
    });
  });
}

/**
 * Measures the agents with 100 and 10,000 secrets and the reference server at each concurrency, their windows
 * interleaved. Returns { byConcurrency: { c: { label: result } }, memory: { agentLabel: { idle, peakUnderLoad, hwm } } }.
 */
export async function measureLoad(ctx) {
  const { agents, reference, plan } = ctx;
  const targets = [agents.a100, agents.a10k, ...(reference ? [reference] : [])];
  for (const t of [agents.a100, agents.a10k]) {
    const answer = await ask(t.socket, { v: 1, op: "get", name: t.names[0] });
    if (answer.ok !== true || answer.value !== t.values.get(t.names[0]))
      throw new Error(`the agent ${t.label} does not answer get: ${JSON.stringify(answer).slice(0, 300)}`);
  }
  const byConcurrency = {};
  const peaks = {};
  for (const concurrency of [1, 16, 256]) {
    const config = {
      concurrency,
      warmupMs: plan.load.warmupMs,
      windowMs: plan.load.windowMs,
      windows: plan.load.windows,
      targets: targets.map((t) => ({ label: t.label, socket: t.socket, names: t.names ?? ["BENCH_KEY_00000"] })),
    };
    const budget = targets.length * (config.warmupMs + config.windows * config.windowMs) + 60_000;
    ctx.log(
      `agent load: ${concurrency} connection(s), ${targets.map((t) => t.label).join(", ")}: ${config.windows} windows of ${config.windowMs} ms each`,
    );
    const s = sampler([agents.a100.pid, agents.a10k.pid]);
    try {
      byConcurrency[concurrency] = await runLoad(ctx, config, budget);
    } finally {
      const seen = s.stop();
      for (const a of [agents.a100, agents.a10k])
        peaks[a.label] = Math.max(peaks[a.label] ?? 0, seen[a.pid].peakRssKiB);
    }
  }
  const memory = {};
  for (const a of [agents.a100, agents.a10k]) {
    const now = memoryOf(a.pid);
    memory[a.label] = {
      secrets: a.secrets,
      idleRssKiB: ctx.idleMemory[a.label]?.rss,
      peakRssUnderLoadKiB: peaks[a.label],
      hwmKiB: now?.hwm,
      rssAfterKiB: now?.rss,
    };
  }
  return { byConcurrency, memory };
}

/**
 * Starts 200 `secretfile exec --socket … -- true` at once, and 200 `node -e 0`, alternating which goes first, for
 * the planned number of pairs (after a warm-up of 20 each). Returns per-run times, failures and the paired ratio.
 */
export async function measureBurst(ctx) {
  const { node, sf } = commands(ctx);
  const agent = ctx.agents.a10;
  const a = sf("secretfile exec -- true (agent, 10)", ["exec", "--socket", agent.socket, "--", "true"], {
    as: ctx.caller.as,
    timeoutMs: 180_000,
  });
  const b = node(ctx.caller.as);
  await burst(a, 20);
  await burst(b, 20);
  const runs = { [a.label]: [], [b.label]: [] };
  for (let i = 0; i < ctx.plan.burst.runs; i++) {
    for (const c of i % 2 === 0 ? [a, b] : [b, a]) {
      const r = await burst(c, BURST);
      runs[c.label].push(r);
      ctx.log(
        `  burst ${i + 1}/${ctx.plan.burst.runs}: ${BURST} × ${c.label}: ${(r.ms / 1000).toFixed(2)} s, ${r.failed} failed`,
      );
      await sleep(500);
    }
  }
  const ms = (label) => runs[label].map((r) => r.ms);
  const failed = runs[a.label].reduce((n, r) => n + r.failed, 0);
  return {
    size: BURST,
    commands: Object.fromEntries(
      Object.entries(runs).map(([label, list]) => [
        label,
        {
          ms: list.map((r) => r.ms),
          summary: summarize(list.map((r) => r.ms)),
          failed: list.reduce((n, r) => n + r.failed, 0),
          failures: list.flatMap((r) => r.failures).slice(0, 5),
        },
      ]),
    ),
    ratio: pairedRatio(ms(a.label), ms(b.label)),
    subject: a.label,
    baseline: b.label,
    allServed: failed === 0 && runs[b.label].every((r) => r.failed === 0),
  };
}
