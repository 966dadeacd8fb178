// `npm run bench`: builds, prepares its own stores and agents in a temporary folder, runs every measurement of
// issue 5, prints the table and writes bench/results.json and docs/benchmarks.md.
// Rules: measurement only (no tuning, no retry until a figure looks good); a measurement that fails is reported and
// the others still run; everything started here is stopped by pid, and the temporary folder removed, at the end.
//
// Usage: node bench/run.mjs [--quick] [--only SECTION,...] [--keep] [--no-install]
//        node bench/run.mjs --render   (writes docs/benchmarks.md again from bench/results.json, runs nothing)
//   --quick       fewer runs (a few minutes less; for trying the bench, not for reporting)
//   --only        run only these sections (startup, load, burst, writes, masking, memory); writes no files
//   --keep        keep the temporary folder (stores, agents' audit logs) and print its path
//   --no-install  do not apt-get install missing peers (age, pass, gnupg, time); they are reported missing

import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { callerUser, startAgent, startNullServer } from "./agents.mjs";
import { measureBurst, measureLoad } from "./measure-agent.mjs";
import { measureMasking } from "./measure-masking.mjs";
import { measureCliMemory } from "./measure-memory.mjs";
import { measureStartup } from "./measure-startup.mjs";
import { measureWrites } from "./measure-writes.mjs";
import {
  build,
  copyApp,
  findDotenvx,
  findTools,
  makeDotenv,
  makePass,
  makeStore,
  peerVersions,
  ROOT,
} from "./prepare.mjs";
import { baseEnv, memoryOf, sleep } from "./procs.mjs";
import { markdown, summaryText } from "./report.mjs";
import { checkTargets } from "./targets.mjs";

const RESULTS = path.join(ROOT, "bench", "results.json");
const SECTIONS = ["startup", "load", "burst", "writes", "masking", "memory"];
const PLANS = {
  full: {
    startup: { warmup: 2, runs: 15 },
    load: { warmupMs: 1000, windowMs: 1000, windows: 10 },
    burst: { runs: 10 },
    writes: { warmup: 2, runs: 10 },
    writers: { stores: ["s10", "s10k"] },
    masking: { warmup: 1, runs: 10 },
    memory: { runs: 5 },
  },
  quick: {
    startup: { warmup: 1, runs: 5 },
    load: { warmupMs: 300, windowMs: 300, windows: 5 },
    burst: { runs: 2 },
    writes: { warmup: 1, runs: 5 },
    writers: { stores: ["s10"] },
    masking: { warmup: 1, runs: 3 },
    memory: { runs: 3 },
  },
};

function parseArgs(argv) {
  const opts = { quick: false, only: undefined, keep: false, install: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") opts.quick = true;
    else if (a === "--keep") opts.keep = true;
    else if (a === "--no-install") opts.install = false;
    else if (a === "--only" || a.startsWith("--only=")) {
      const list = (a.includes("=") ? a.slice(7) : (argv[++i] ?? "")).split(",").filter(Boolean);
      const bad = list.filter((s) => !SECTIONS.includes(s));
      if (bad.length || !list.length)
        usage(`unknown section ${bad.join(", ") || "(none)"}; sections: ${SECTIONS.join(", ")}`);
      opts.only = new Set(list);
    } else if (a === "--help" || a === "-h") usage();
    else usage(`unknown option ${a}`);
  }
  return opts;
}

function usage(error) {
  if (error) process.stderr.write(`bench: error: ${error}\n`);
  process.stderr.write("usage: npm run bench -- [--quick] [--only SECTION,...] [--keep] [--no-install]\n");
  process.exit(error ? 2 : 0);
}

function git(args) {
  const r = spawnSync("git", args, { cwd: ROOT, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const plan = PLANS[opts.quick ? "quick" : "full"];
  const started = Date.now();
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]`;
  let dots = false;
  const log = (msg) => {
    process.stderr.write(`${dots ? "\n" : ""}${stamp()} ${msg}\n`);
    dots = false;
  };
  const tick = () => {
    process.stderr.write(".");
    dots = true;
  };
  const results = { meta: {}, errors: [] };
  const cleanups = [];
  let base;
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
    cleanups.length = 0;
    if (base && !opts.keep) rmSync(base, { recursive: true, force: true });
  };
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.once(sig, () => {
      log(`stopping on ${sig}`);
      void cleanup().then(() => process.exit(130));
    });
  }
  try {
    if (process.platform !== "linux") throw new Error("the bench runs on Linux (it reads /proc and uses SO_PEERCRED)");
    if (process.getuid?.() !== 0)
      throw new Error("the bench runs as root: the agents' policy files must be root-owned, and clients run as nobody");
    log("building (npm run build)");
    build();
    base = mkdtempSync(path.join(os.tmpdir(), "secretfile-bench-"));
    chmodSync(base, 0o755);
    for (let dir = path.dirname(base); dir !== "/"; dir = path.dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0)
        throw new Error(
          `${dir} is not traversable by other users, so nobody cannot reach the agent; set TMPDIR elsewhere`,
        );
    }
    const cli = copyApp(base);
    const { tools, installLog } = findTools(opts.install);
    for (const l of installLog) log(l);
    const dotenvx = findDotenvx();
    const caller = callerUser();
    log(`preparing stores of 10, 100 and 10,000 secrets in ${base}`);
    const stores = {
      s10: await makeStore(cli, path.join(base, "s10"), 10),
      s100: await makeStore(cli, path.join(base, "s100"), 100),
      s10k: await makeStore(cli, path.join(base, "s10k"), 10_000),
    };
    const dotenvDir = makeDotenv(stores.s10, path.join(base, "dotenv"));
    let pass;
    if (tools.pass && tools.gpg) {
      try {
        pass = makePass(tools, stores.s10, base);
        cleanups.push(() => pass.stop());
      } catch (err) {
        pass = { missing: `could not set up pass: ${err instanceof Error ? err.message : err}` };
      }
    } else pass = { missing: `${tools.pass ? "gpg" : "pass"} is not installed (apt-get install pass gnupg)` };
    log("starting agents (10, 100 and 10,000 secrets) and the reference server");
    const agents = {};
    for (const [key, label, store] of [
      ["a10", "agent, 10 secrets", stores.s10],
      ["a100", "agent, 100 secrets", stores.s100],
      ["a10k", "agent, 10,000 secrets", stores.s10k],
    ]) {
      agents[key] = await startAgent(cli, base, key, store, caller);
      agents[key].label = label;
      cleanups.push(() => agents[key].stop());
    }
    const reference = await startNullServer(base);
    cleanups.push(() => reference.stop());
    await sleep(1000);
    const idleMemory = Object.fromEntries(Object.values(agents).map((a) => [a.label, memoryOf(a.pid)]));

    const ctx = {
      opts,
      plan,
      base,
      cli,
      tools,
      dotenvx,
      dotenvDir,
      pass,
      caller,
      stores,
      agents,
      reference,
      idleMemory,
      env: baseEnv(base),
      log,
      tick,
    };
    const loadStart = os.loadavg()[0].toFixed(2);
    const section = async (name, key, fn) => {
      if (opts.only && !opts.only.has(name)) return;
      try {
        results[key] = await fn();
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`${name} failed: ${message}`);
        results[key] = { error: message };
        results.errors.push({ section: name, message });
      }
    };
    await section("startup", "startup", () => measureStartup(ctx));
    await section("load", "load", () => measureLoad(ctx));
    await section("burst", "burst", () => measureBurst(ctx));
    await section("writes", "writes", () => measureWrites(ctx));
    await section("masking", "masking", () => measureMasking(ctx));
    await section("memory", "memory", async () => ({
      cli: await measureCliMemory(ctx),
      agents: Object.fromEntries(
        Object.values(agents).map((a) => [a.label, { idle: idleMemory[a.label], end: memoryOf(a.pid) }]),
      ),
    }));
    for (const a of Object.values(agents))
      if (!a.alive())
        results.errors.push({
          section: "agent",
          message: `the ${a.label} agent ended during the run: ${a.stderr().trim().slice(-400)}`,
        });

    const cpus = os.cpus();
    results.meta = {
      date: new Date().toISOString(),
      quick: opts.quick,
      only: opts.only ? [...opts.only] : undefined,
      durationS: (Date.now() - started) / 1000,
      machine: {
        cpu: cpus[0]?.model?.trim() ?? "unknown CPU",
        cores: os.availableParallelism?.() ?? cpus.length,
        memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
        kernel: os.release(),
        loadStart,
        loadEnd: os.loadavg()[0].toFixed(2),
      },
      node: process.version,
      secretfile: {
        version: cli.version,
        commit: git(["rev-parse", "--short", "HEAD"]) ?? "unknown",
        dirty: (git(["status", "--porcelain", "--", "src"]) ?? "").split("\n").filter(Boolean).length,
      },
      caller: caller.as
        ? `${caller.name} (uid ${caller.uid}); the agents run as root`
        : `the bench's own user (uid ${caller.uid})`,
      peers: peerVersions(tools, dotenvx),
      installLog,
      plan,
    };
    results.targets = checkTargets(results);
  } catch (err) {
    results.errors.push({ section: "preparation", message: err instanceof Error ? err.message : String(err) });
    log(`preparation failed: ${err instanceof Error ? err.message : err}`);
  } finally {
    await cleanup();
    if (opts.keep && base) log(`kept ${base}`);
  }
  if (!results.targets) {
    process.stderr.write(`bench: error: ${results.errors.map((e) => e.message).join("; ")}\n`);
    process.exit(1);
  }
  // The raw figures first, so that a fault in the report loses nothing (`--render` writes the report again).
  if (!opts.only) {
    writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
    renameSync(`${RESULTS}.tmp`, RESULTS);
  }
  render(results, !opts.only);
  process.exitCode = results.errors.length ? 1 : 0;
}

/** Prints the summary and, when `write`, writes docs/benchmarks.md from `results`. */
function render(results, write) {
  process.stdout.write(`\n${summaryText(results)}\n`);
  if (write) {
    writeFileSync(path.join(ROOT, "docs", "benchmarks.md"), markdown(results));
    process.stdout.write("\nwrote bench/results.json and docs/benchmarks.md\n");
  }
}

if (process.argv[2] === "--render") {
  const results = JSON.parse(readFileSync(RESULTS, "utf8"));
  results.targets = checkTargets(results);
  render(results, true);
} else await main();
