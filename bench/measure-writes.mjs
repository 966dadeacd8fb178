// Measurement 4, writes: `add` into a store of 10,000 secrets (and of 10, for contrast) timed against `node -e 0`,
// then 50 writers at once (into 10 and into 10,000 secrets), each adding a distinct name, and a check that none is lost.
// Rules: each writer run gets a fresh copy of the store; the check decrypts the result independently of the CLI.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Decrypter } from "age-encryption";
import { commands } from "./measure-startup.mjs";
import { copyStore } from "./prepare.mjs";
import { interleave, ratioOf } from "./rounds.mjs";

const WRITERS = 50;

/** Returns the decrypted document of a store, as parsed JSON. */
async function openStore(store) {
  const identity = readFileSync(store.identity, "utf8")
    .split("\n")
    .find((l) => l.startsWith("AGE-SECRET-KEY-"));
  const d = new Decrypter();
  d.addIdentity(identity);
  return JSON.parse(new TextDecoder().decode(await d.decrypt(readFileSync(store.store))));
}

/** Times `add` (a new name each run) into copies of the 10- and 10,000-secret stores, interleaved with `node -e 0`. */
function timeAdds(ctx) {
  const { node, sf } = commands(ctx);
  const big = copyStore(ctx.stores.s10k, path.join(ctx.base, "w10k"));
  const small = copyStore(ctx.stores.s10, path.join(ctx.base, "w10"));
  let n = 0;
  const adder = (label, store) => ({
    label,
    next: () => sf(label, ["add", "--dir", store.dir, `BENCH_ADD_${++n}`], { input: `value-${n}-${"v".repeat(32)}\n` }),
  });
  const cmds = [
    node(),
    adder("secretfile add NAME (personal, 10,000)", big),
    adder("secretfile add NAME (personal, 10)", small),
  ];
  ctx.log(`writes: add, ${ctx.plan.writes.warmup} warm-up + ${ctx.plan.writes.runs} rounds`);
  const result = interleave(cmds, { ...ctx.plan.writes, progress: ctx.tick });
  const ratios = {};
  for (const c of cmds.slice(1)) ratios[`${c.label} / node -e 0`] = ratioOf(result, c.label, "node -e 0");
  return { commands: result.commands, ratios };
}

/** Starts WRITERS `add` processes at once into one store; resolves with { ms, failed, failures }. */
function writers(ctx, store, run) {
  const { sf } = commands(ctx);
  return new Promise((resolve) => {
    const failures = [];
    let left = WRITERS;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < WRITERS; i++) {
      const c = sf("add", ["add", "--dir", store.dir, `BENCH_CONCURRENT_${run}_${i}`]);
      const child = spawn(c.argv[0], c.argv.slice(1), { env: c.env, cwd: c.cwd, stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
      child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
      child.stdin.on("error", () => undefined);
      child.stdin.end(`concurrent-${run}-${i}-${"w".repeat(32)}\n`);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (code !== 0) failures.push({ writer: i, code, signal, stderr: stderr.trim().slice(-400) });
        if (--left === 0)
          resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, failed: failures.length, failures });
      });
    }
  });
}

/**
 * Runs the 50 concurrent writers once into a fresh copy of each store in `plan.writers.stores` (keys of ctx.stores)
 * and checks every name and value afterwards.
 */
async function concurrentWriters(ctx) {
  const runs = [];
  for (const key of ctx.plan.writers.stores) {
    const src = ctx.stores[key];
    const size = src.names.length;
    ctx.log(`writes: ${WRITERS} writers at once into a store of ${size.toLocaleString("en-US")} secrets`);
    const store = copyStore(src, path.join(ctx.base, `c-${key}`));
    const r = await writers(ctx, store, key);
    const doc = await openStore(store);
    const missing = [];
    for (let i = 0; i < WRITERS; i++) {
      const name = `BENCH_CONCURRENT_${key}_${i}`;
      if (doc.secrets[name]?.value !== `concurrent-${key}-${i}-${"w".repeat(32)}`) missing.push(name);
    }
    const total = Object.keys(doc.secrets).length;
    // "Lost" is a writer that exited 0 but whose name or value is not in the store; a failed writer claimed nothing.
    const failedNames = new Set(r.failures.map((f) => `BENCH_CONCURRENT_${key}_${f.writer}`));
    const lost = missing.filter((n) => !failedNames.has(n)).length;
    runs.push({
      secretsBefore: size,
      ms: r.ms,
      msPerAdd: r.ms / WRITERS,
      failed: r.failed,
      failures: r.failures.slice(0, 5),
      missing: missing.length,
      lost,
      secretsAfter: total,
      expectedAfter: size + WRITERS,
    });
    ctx.log(
      `  ${(r.ms / 1000).toFixed(2)} s, ${r.failed} failed, ${missing.length} missing, ${total} secrets after (expected ${size + WRITERS})`,
    );
  }
  return {
    writers: WRITERS,
    runs,
    noneLost: runs.every((r) => r.lost === 0 && r.secretsAfter === r.secretsBefore + WRITERS - r.failed),
    allSucceeded: runs.every((r) => r.failed === 0),
  };
}

/** Runs both write measurements. */
export async function measureWrites(ctx) {
  const adds = timeAdds(ctx);
  return { adds, concurrent: await concurrentWriters(ctx) };
}
