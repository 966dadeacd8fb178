// Measurement 6, the CLI's half: peak RSS of each command (GNU time's %M, else VmHWM polling), `node -e 0` for scale.
// Rules: each command runs the planned number of times; the largest peak is the figure compared with the target.

import { chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import { commands } from "./measure-startup.mjs";
import { JOB } from "./measure-masking.mjs";
import { copyStore } from "./prepare.mjs";
import { peakRssKiB, TIME_BIN } from "./procs.mjs";
import { summarize } from "./stats.mjs";

/** Measures the peak RSS of the CLI's commands; returns { tool, commands: { label: { kib: [...], summary } | { error } } }. */
export async function measureCliMemory(ctx) {
  const { node, sf } = commands(ctx);
  const { stores, agents, caller } = ctx;
  const scratch = copyStore(stores.s10k, path.join(ctx.base, "m10k"));
  // GNU time writes its figure as the measured command's user, who may be `nobody`: a sticky folder everyone can write.
  const timeDir = path.join(ctx.base, "time");
  mkdirSync(timeDir, { recursive: true });
  chmodSync(timeDir, 0o1777);
  let n = 0;
  const cmds = [
    node(),
    sf("secretfile exec -- true (personal, 10)", ["exec", "--dir", stores.s10.dir, "--", "true"]),
    sf("secretfile exec -- true (personal, 10,000)", ["exec", "--dir", stores.s10k.dir, "--", "true"]),
    sf("secretfile get NAME (agent, 10,000)", ["get", "--socket", agents.a10k.socket, agents.a10k.names[0]], {
      as: caller.as,
    }),
    sf("secretfile exec -- true (agent, 10)", ["exec", "--socket", agents.a10.socket, "--", "true"], { as: caller.as }),
    sf("secretfile exec -- true (agent, 10,000)", ["exec", "--socket", agents.a10k.socket, "--", "true"], {
      as: caller.as,
    }),
    {
      label: "secretfile add NAME (personal, 10,000)",
      next: () => sf("add", ["add", "--dir", scratch.dir, `BENCH_MEM_${++n}`], { input: "memory-check-value\n" }),
    },
    sf("secretfile exec -- job (masking, 100 MB)", ["exec", "--dir", stores.s10.dir, "--", ...JOB], {
      timeoutMs: 300_000,
    }),
  ];
  ctx.log(
    `memory: peak RSS of ${cmds.length} commands, ${ctx.plan.memory.runs} runs each (${TIME_BIN ?? "VmHWM polling"})`,
  );
  const out = {};
  for (const c of cmds) {
    const kib = [];
    try {
      for (let i = 0; i < ctx.plan.memory.runs; i++) kib.push(await peakRssKiB(c.next ? c.next() : c, timeDir));
      out[c.label] = { kib, summary: summarize(kib) };
    } catch (err) {
      out[c.label] = { error: err instanceof Error ? err.message : String(err) };
    }
    ctx.tick(c.label);
  }
  return { tool: TIME_BIN ? "/usr/bin/time -f %M" : "VmHWM polling of /proc/PID/status", commands: out };
}
