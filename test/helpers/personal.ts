// A fresh personal-mode world per test: temp HOME, a store folder, and the CLI run inside them.
// Rules: no SECRETFILE_* or XDG_CONFIG_HOME leaks in from the developer's shell; everything is removed after the test.

import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { BIN, cleanEnv, collect, ROOT, runCli, tempDir, type Result, type RunOptions } from "./cli.js";

/** The folder of the tiny programs tests run as jobs. */
export const FIXTURES = path.join(ROOT, "test", "fixtures");

/** One test's world: HOME, the store folder (not created) and the environment pointing at it. */
export interface Sandbox {
  /** The temporary folder holding everything below. */
  root: string;
  home: string;
  /** The store folder, $SECRETFILE_DIR; it does not exist until a command creates it. */
  dir: string;
  identity: string;
  store: string;
  env: NodeJS.ProcessEnv;
  /** Runs `secretfile ARGS` in this sandbox; `opts.env` entries are laid over the sandbox's. */
  run(args: string[], opts?: RunOptions): Promise<Result>;
  /** Runs `secretfile add NAME ARGS` with `value` on standard input and expects success. */
  add(name: string, value: string, args?: string[]): Promise<Result>;
  /** Runs `secretfile init` and expects success. */
  init(args?: string[]): Promise<Result>;
}

const cleanups: (() => void)[] = [];

/** Removes every sandbox made so far; test files call it in `afterAll` (it works for concurrent tests too). */
export function removeSandboxes(): void {
  for (const cleanup of cleanups.splice(0)) cleanup();
}

/** Returns a new sandbox, removed by `removeSandboxes`. `extraEnv` is laid over its environment. */
export function sandbox(extraEnv: NodeJS.ProcessEnv = {}): Sandbox {
  const { dir: root, cleanup } = tempDir("secretfile-e2e-");
  cleanups.push(cleanup);
  const home = path.join(root, "home");
  mkdirSync(home, { mode: 0o700 });
  const dir = path.join(root, "store");
  const env = cleanEnv({ HOME: home, SECRETFILE_DIR: dir, ...extraEnv });
  delete env.XDG_CONFIG_HOME;
  const sb: Sandbox = {
    root,
    home,
    dir,
    identity: path.join(dir, "identity.txt"),
    store: path.join(dir, "store.age"),
    env,
    // A long timeout: on a busy machine one run can take many seconds; a hung one is still killed.
    run: (args, opts = {}) => runCli(args, { timeoutMs: 120_000, ...opts, env: { ...env, ...opts.env } }),
    add: async (name, value, args = []) => {
      const r = await sb.run(["add", name, ...args], { input: value });
      if (r.code !== 0) throw new Error(`add ${name} failed (${r.code}): ${r.stderr}`);
      return r;
    },
    init: async (args = []) => {
      const r = await sb.run(["init", ...args]);
      if (r.code !== 0) throw new Error(`init failed (${r.code}): ${r.stderr}`);
      return r;
    },
  };
  return sb;
}

/** A CLI process left running, with its output so far. */
export interface Running {
  pid: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when standard output (or `stream`) contains `text`; rejects after `timeoutMs` or at exit. */
  waitFor(text: string, timeoutMs?: number, stream?: "stdout" | "stderr"): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  done: Promise<Result>;
}

/**
 * Starts `secretfile ARGS` and returns at once; standard input gets `input` and is closed; killed after
 * `timeoutMs`. With `newGroup` it leads a process group of its own, as a shell's foreground job does.
 */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  input = "",
  timeoutMs = 120_000,
  newGroup = false,
): Running {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"], detached: newGroup });
  let out = "";
  let err = "";
  const done = collect(child, input, timeoutMs);
  child.stdout.on("data", (d: string) => (out += d));
  child.stderr.on("data", (d: string) => (err += d));
  let exited = false;
  void done.then(() => (exited = true));
  return {
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    kill: (signal) => child.kill(signal),
    done,
    waitFor: (text, ms = 90_000, stream = "stdout") =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = () => {
          if ((stream === "stdout" ? out : err).includes(text)) {
            resolve();
            return;
          }
          if (exited || Date.now() - started > ms) {
            reject(
              new Error(
                `no ${JSON.stringify(text)} on ${stream}; stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)}`,
              ),
            );
            return;
          }
          setTimeout(poll, 10);
        };
        poll();
      }),
  };
}

/** Runs `fn` on every item with at most `limit` at a time; resolves with the results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Returns every file (not folder) under `dir`, recursively, symlinks not followed. */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkFiles(p));
    else out.push(p);
  }
  return out;
}

/** The length of the pieces of a value searched for: a partial leak counts as a leak. */
const PIECE = 10;

/** Returns true when `haystack` holds `value` or any run of 10 consecutive characters of it. */
export function holdsPiece(haystack: string | Buffer, value: string): boolean {
  const buf = typeof haystack === "string" ? Buffer.from(haystack, "utf8") : haystack;
  if (value.length <= PIECE) return buf.includes(Buffer.from(value, "utf8"));
  for (let i = 0; i + PIECE <= value.length; i++)
    if (buf.includes(Buffer.from(value.slice(i, i + PIECE), "utf8"))) return true;
  return false;
}

/** Returns the files under `dir` whose bytes hold `value` or a 10-character piece of it. */
export function filesContaining(dir: string, value: string): string[] {
  return walkFiles(dir).filter((f) => statSync(f).isFile() && holdsPiece(readFileSync(f), value));
}

/** Returns the permission bits of `file` (e.g. 0o600). */
export function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `secretfile ARGS` under `umask` (through `sh -c 'umask …; exec node …'`), as a user's shell would. */
export function runWithUmask(umask: string, args: string[], env: NodeJS.ProcessEnv, input = ""): Promise<Result> {
  const child = spawn("sh", ["-c", `umask ${umask}; exec "$0" "$@"`, process.execPath, BIN, ...args], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  return collect(child, input);
}

/** Runs `secretfile ARGS` on a pseudo-terminal with `sb`'s environment (test/fixtures/tty-run.py types a value at a prompt). */
export async function onTerminal(
  sb: Sandbox,
  args: string[],
): Promise<{ out: string; code: number; prompted: boolean }> {
  const child = spawn(
    "python3",
    [path.join(FIXTURES, "tty-run.py"), JSON.stringify([process.execPath, BIN, ...args])],
    {
      env: sb.env,
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const r = await collect(child, "", 90_000);
  if (r.code !== 0) throw new Error(`tty-run failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { out: string; code: number; prompted: boolean };
}
