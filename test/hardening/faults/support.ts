// What the fault tests share: the fault shim and the store worker built into a temporary folder, decrypting a store
// the way a test may (as root or its owner, without the CLI), agents started with a chosen environment, and figures.
// Rules: every process started here is stopped by the test that started it; nothing is written outside temp folders.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { expect } from "vitest";
import { decrypt } from "../../../src/store/crypto.js";
import { parseDocument, type StoreDocument } from "../../../src/store/document.js";
import { readOwner } from "../../../src/store/lock-owner.js";
import { putSecret } from "../../../src/store/operations.js";
import { Store, storePaths } from "../../../src/store/store.js";
import { ROOT } from "../../helpers/cli.js";
import {
  spawnAgent,
  untilReady,
  writePolicy,
  type AgentFiles,
  type AgentProcess,
  type TestUser,
  type World,
} from "../../helpers/system.js";

export const FAULTS = path.join(ROOT, "test", "fixtures", "faults");

/** True when a C compiler is on the PATH (CI has gcc). */
export const hasCC = spawnSync("cc", ["--version"]).status === 0;

/** Compiles the LD_PRELOAD fault shim into `dir`; returns the .so path. Throws with the compiler's output. */
export function compileShim(dir: string): string {
  const out = path.join(dir, "fault.so");
  const r = spawnSync("cc", ["-shared", "-fPIC", "-O2", "-Wall", "-o", out, path.join(FAULTS, "fault.c"), "-ldl"], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  return out;
}

/** The environment that makes a process fail `op` with `code` (see fault.c); libuv's io_uring is kept off. */
export function faultEnv(
  shim: string,
  op: string,
  code: string,
  log: string,
  match?: string,
  after?: number,
): NodeJS.ProcessEnv {
  return {
    LD_PRELOAD: shim,
    UV_USE_IO_URING: "0",
    SFT_FAULT_OP: op,
    SFT_FAULT_ERRNO: code,
    SFT_FAULT_LOG: log,
    ...(match === undefined ? {} : { SFT_FAULT_MATCH: match }),
    ...(after === undefined ? {} : { SFT_FAULT_AFTER: String(after) }),
  };
}

/** Bundles test/fixtures/faults/store-worker.ts (with secretfile's store code) into `dir`; returns the .mjs path. */
export async function buildWorker(dir: string): Promise<string> {
  const outfile = path.join(dir, "store-worker.mjs");
  await build({
    entryPoints: [path.join(FAULTS, "store-worker.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    banner: {
      js: 'import { createRequire as __sfCreateRequire } from "node:module"; const require = __sfCreateRequire(import.meta.url);',
    },
    // Smaller to parse: hundreds of workers are started, and their start-up is most of what a kill costs.
    minify: true,
    logLevel: "warning",
  });
  return outfile;
}

/** Decrypts and parses the store in `dir` with its identity.txt (the test runs as its owner or root). */
export async function readStore(dir: string): Promise<StoreDocument> {
  const identity = readFileSync(path.join(dir, "identity.txt"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("AGE-SECRET-KEY-"));
  if (identity === undefined) throw new Error(`no identity in ${dir}`);
  const file = path.join(dir, "store.age");
  return parseDocument(await decrypt(readFileSync(file), identity, file), file);
}

/** The integer value of `name` in `doc` (0 when absent). */
export const numberOf = (doc: StoreDocument, name: string): number => Number(doc.secrets[name]?.value ?? "0");

/**
 * What a store folder holds besides the identity and the store: temporary files, the lock, the takeover file (left only
 * by a writer killed in the few system calls of a takeover), and anything else.
 */
export function leftovers(dir: string): { temps: string[]; lock: boolean; takeover: boolean; other: string[] } {
  const names = readdirSync(dir);
  // store.seen: the record of the newest store served (src/store/generation.ts), written beside the store.
  const known = ["identity.txt", "store.age", "store.seen", "store.age.lock", "store.age.lock.takeover"];
  const temp = (n: string) => n.startsWith(".store.age.tmp-") || n.startsWith(".store.seen.tmp-");
  return {
    temps: names.filter(temp),
    lock: names.includes("store.age.lock"),
    takeover: names.includes("store.age.lock.takeover"),
    other: names.filter((n) => !temp(n) && !known.includes(n)),
  };
}

/** The lock folder's mtime in ms, or undefined when there is none. */
export function lockMtime(dir: string): number | undefined {
  const lock = path.join(dir, "store.age.lock");
  return existsSync(lock) ? statSync(lock).mtimeMs : undefined;
}

/** A long-lived child whose standard output is read line by line. */
export interface Worker {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  /** Resolves when a line satisfying `pred` has been printed; rejects when the child ends first or after `ms`. */
  waitLine(pred: (line: string) => boolean, ms?: number): Promise<string>;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The N of the last "ok N" line, or undefined. */
  lastOk(): number | undefined;
}

/** Starts `node script args` (or the command `cmd`) and follows its output. */
export function startWorker(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { cmd?: string; uid?: number; gid?: number } = {},
): Worker {
  const child = spawn(opts.cmd ?? process.execPath, opts.cmd === undefined ? [script, ...args] : args, {
    env,
    stdio: ["pipe", "pipe", "pipe"],
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid }),
  });
  const lines: string[] = [];
  let partial = "";
  let err = "";
  const waiters = new Set<() => void>();
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    const parts = (partial + d).split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters) w();
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  child.stdin.on("error", () => undefined);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      done = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    lastOk: () => {
      for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.startsWith("ok ")) return Number(lines[i]!.slice(3));
      return undefined;
    },
    waitLine: (pred, ms = 30_000) =>
      new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            if (pred(lines[seen]!)) {
              cleanup();
              resolve(lines[seen]!);
              return;
            }
          }
          if (done) {
            cleanup();
            reject(new Error(`ended (${child.exitCode ?? child.signalCode}) before the line; stderr: ${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no such line within ${ms} ms; stdout ${JSON.stringify(lines.slice(-5))}, stderr ${err}`));
        }, ms);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}

let prepared = 0;

/**
 * Prepares an agent's files in `world` as prepareAgent does (service-owned 0700 state folder, root-owned policy, socket
 * and audit folders), but makes the identity and store in-process, with `secrets` in it, instead of running the CLI:
 * quicker, and immune to a slow machine's 30-second CLI timeout.
 */
export async function prepareFiles(
  world: World,
  service: TestUser,
  policyText: string,
  secrets: Record<string, string> = {},
): Promise<AgentFiles> {
  const n = ++prepared;
  const base = world.mkdir(`faults-${n}`, 0o755);
  const dir = world.mkdir(`faults-${n}/state`, 0o700, service);
  world.mkdir(`faults-${n}/run`, 0o755, service);
  world.mkdir(`faults-${n}/log`, 0o700, service);
  world.mkdir(`faults-${n}/etc`, 0o755);
  const files: AgentFiles = {
    base,
    dir,
    socket: path.join(base, "run", "agent.sock"),
    policy: path.join(base, "etc", "policy"),
    audit: path.join(base, "log", "audit.log"),
  };
  writePolicy(files.policy, policyText);
  const made = mkdtempSync(path.join(os.tmpdir(), "secretfile-faults-made-"));
  try {
    const store = await Store.create(storePaths(path.join(made, "s")), { pq: false });
    await store.update((doc) => {
      for (const [name, value] of Object.entries(secrets))
        putSecret(doc, name, value, { replace: true }, store.paths.store);
    });
    for (const name of ["identity.txt", "store.age"]) {
      const dest = path.join(dir, name);
      copyFileSync(path.join(made, "s", name), dest);
      chownSync(dest, service.uid, service.gid);
      chmodSync(dest, 0o600);
    }
  } finally {
    rmSync(made, { recursive: true, force: true });
  }
  return files;
}

/** An agent started by a fault test, with the environment it asked for. */
export type Agent = AgentProcess;

/**
 * Starts `secretfile agent` on `files` as `service` with `env` laid over a clean environment; resolves once it answers
 * a ping (it must answer within `ms`). Throws with its standard error if it ends first.
 */
export async function launchAgent(
  world: World,
  service: TestUser,
  files: AgentFiles,
  env: NodeJS.ProcessEnv = {},
  ms = 30_000,
): Promise<Agent> {
  const agent = spawnAgent(world, service, files, env);
  await untilReady(agent, files.socket, ms);
  return agent;
}

/** What the rounds after kills count of what the dead left behind. */
export interface LeftTally {
  tempLeft: number;
  takeoverLeft?: number;
  lockLeft: number;
  ownerless: number;
}

/**
 * Looks at the store folder `dir` right after a kill: nothing but temporary files, the lock and the takeover file may
 * be left (asserted), and each is counted in `t`. A lock whose owner record the victim never wrote is aged past
 * `staleMs`, so that the ordinary stale-lock path takes it over. Returns whether a lock was left.
 */
export function afterKill(dir: string, t: LeftTally, round: number, staleMs: number): boolean {
  const left = leftovers(dir);
  expect(left.other, `round ${round}`).toEqual([]);
  if (left.temps.length > 0) t.tempLeft++;
  if (left.takeover && t.takeoverLeft !== undefined) t.takeoverLeft++;
  if (!left.lock) return false;
  t.lockLeft++;
  const lock = path.join(dir, "store.age.lock");
  if (readOwner(lock) === undefined) {
    t.ownerless++;
    const old = new Date(Date.now() - 2 * staleMs);
    utimesSync(lock, old, old);
  }
  return true;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Returns a uniformly random number in [lo, hi). */
export const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

/** The q-quantile of `xs` (0 when empty). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Prints a figure line for docs/hardening.md and returns it (tests also attach it as an annotation). */
export function figure(label: string, data: Record<string, unknown>): string {
  const line = `[faults] ${label}: ${JSON.stringify(data)}`;
  console.info(line);
  return line;
}

/**
 * Makes the folder `dir` and mounts a tmpfs of `size` (e.g. "512k") on it, mode 0700, owned by `owner`. Returns
 * undefined when mounted (unmount with `umount -l`), else why it could not be (the test then skips, saying so).
 */
export function mountTmpfs(dir: string, size: string, owner: TestUser): string | undefined {
  mkdirSync(dir);
  const mount = spawnSync(
    "mount",
    ["-t", "tmpfs", "-o", `size=${size},mode=0700,uid=${owner.uid},gid=${owner.gid}`, "tmpfs", dir],
    { encoding: "utf8" },
  );
  return mount.status === 0 ? undefined : `cannot mount a tmpfs here (${mount.stderr.trim()})`;
}

/**
 * Starts an agent on `files` as `service` with its audit log on a new tmpfs of 64 KiB (`log-tmpfs` in files.base), runs
 * `body` with it, then stops the agent and unmounts. Skips the test (saying why) when no tmpfs can be mounted.
 */
export async function withAuditOnTmpfs(
  world: World,
  service: TestUser,
  files: AgentFiles,
  ctx: { skip(note: string): void },
  body: (agent: Agent, onTmpfs: AgentFiles, mnt: string) => Promise<void>,
): Promise<void> {
  const mnt = path.join(files.base, "log-tmpfs");
  const cannot = mountTmpfs(mnt, "64k", service);
  if (cannot !== undefined) {
    ctx.skip(cannot);
    return;
  }
  let agent: Agent | undefined;
  try {
    const onTmpfs: AgentFiles = { ...files, audit: path.join(mnt, "audit.log") };
    agent = await launchAgent(world, service, onTmpfs);
    await body(agent, onTmpfs, mnt);
  } finally {
    await agent?.stop();
    spawnSync("umount", ["-l", mnt]);
  }
}

/** Writes zeros to `file` until the filesystem is full. */
export function fill(file: string): void {
  const fd = openSync(file, "w");
  try {
    for (const size of [64 * 1024, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch {
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}
