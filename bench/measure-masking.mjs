// Measurement 5, masking: 100 MB of job output through `exec` with masking and with `--no-mask`, the CLI's standard
// output on /dev/null, with a 10-secret store (and masking with a 10,000-secret one); the same job run directly and
// `exec -- true` of each store in the same rounds.
// Rules: throughput is 100 MB over the whole command's wall time (start-up included); the net figure subtracts the
// same round's `exec -- true`; the output is checked once to be all there.

import { spawn } from "node:child_process";
import { commands } from "./measure-startup.mjs";
import { interleave } from "./rounds.mjs";
import { summarize } from "./stats.mjs";

/** Bytes of output per run. */
export const BYTES = 100_000_000;
const LINE = "2026-11-28 03:00:00 report.py: fetched 120 devices from the API, 3 offline, status ok";
/** The job: log-like text lines, 100 MB, from coreutils (no secret value in it). */
export const JOB = ["sh", "-c", `yes '${LINE}' | head -c ${BYTES}`];

/** Counts the bytes `argv` writes to its standard output; resolves with the count. */
function countOutput(cmd) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.argv[0], cmd.argv.slice(1), {
      env: cmd.env,
      cwd: cmd.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let bytes = 0;
    let stderr = "";
    child.stdout.on("data", (d) => (bytes += d.length));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(bytes)
        : reject(new Error(`${cmd.label} ended with ${code}: ${stderr.trim().slice(0, 400)}`)),
    );
  });
}

/** Runs the masking rounds; returns { commands, throughputMBps: { label: summary }, net, outputChecked }. */
export async function measureMasking(ctx) {
  const { cmd, sf } = commands(ctx);
  const dir = ctx.stores.s10.dir;
  const direct = cmd("job alone (100 MB)", JOB, { timeoutMs: 300_000 });
  const masked = sf("secretfile exec -- job (masking)", ["exec", "--dir", dir, "--", ...JOB], { timeoutMs: 300_000 });
  const plain = sf("secretfile exec --no-mask -- job", ["exec", "--no-mask", "--dir", dir, "--", ...JOB], {
    timeoutMs: 300_000,
  });
  const empty = sf("secretfile exec -- true (personal, 10)", ["exec", "--dir", dir, "--", "true"]);
  const big = ctx.stores.s10k.dir;
  const masked10k = sf("secretfile exec -- job (masking, 10,000 secrets)", ["exec", "--dir", big, "--", ...JOB], {
    timeoutMs: 300_000,
  });
  const empty10k = sf("secretfile exec -- true (personal, 10,000)", ["exec", "--dir", big, "--", "true"]);
  for (const c of [masked, masked10k]) {
    const seen = await countOutput(c);
    if (seen !== BYTES) throw new Error(`${c.label} passed on ${seen} bytes of the job's ${BYTES}`);
  }
  const seen = BYTES;
  ctx.log(`masking: ${ctx.plan.masking.warmup} warm-up + ${ctx.plan.masking.runs} rounds of 100 MB`);
  const result = interleave([direct, masked, plain, empty, masked10k, empty10k], {
    ...ctx.plan.masking,
    progress: ctx.tick,
  });
  const mbps = (ms) => BYTES / 1e6 / (ms / 1000);
  const throughputMBps = {};
  for (const c of [direct, masked, plain, masked10k]) {
    const r = result.commands[c.label];
    throughputMBps[c.label] = r.error ? { error: r.error } : summarize(r.ms.map(mbps));
  }
  const net = {};
  for (const [c, base] of [
    [masked, empty],
    [plain, empty],
    [masked10k, empty10k],
  ]) {
    const r = result.commands[c.label];
    const e = result.commands[base.label];
    if (r.error || e.error) continue;
    const n = Math.min(r.ms.length, e.ms.length);
    net[c.label] = summarize(r.ms.slice(0, n).map((ms, i) => mbps(Math.max(1, ms - e.ms[i]))));
  }
  return {
    bytes: BYTES,
    job: JOB.join(" "),
    commands: result.commands,
    throughputMBps,
    netMBps: net,
    outputChecked: seen,
  };
}
