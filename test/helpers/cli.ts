// Running the built CLI as a user would: bin/secretfile in a child process, with its own environment.
import { spawn, type SpawnOptions } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execOwnExit } from "../../src/errors.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(ROOT, "bin", "secretfile");
/** The node every uid runs (the one on the test's PATH may sit in a folder only root can enter). */
export const NODE = "/usr/bin/node";

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** The launcher to run instead of bin/secretfile (e.g. a copy readable by other uids). */
  bin?: string;
  /** The node to run it with, and that node's flags (process.execPath and none unless given). */
  node?: string;
  nodeFlags?: readonly string[];
  timeoutMs?: number;
}

/**
 * Where vitest.config.ts keeps the NODE_EXTRA_CA_CERTS it takes out of the run's environment, for the one test that
 * needs it (npm install from the registry, which here is reached through a proxy with a CA of its own).
 */
export const CA_CERTS_FOR_NPM = "SECRETFILE_TEST_CA_CERTS_FOR_NPM";

/**
 * A clean environment: no SECRETFILE_* from the developer's shell (vitest.config.ts drops NODE_EXTRA_CA_CERTS for the
 * whole run), HOME in a temp folder.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SECRETFILE_")) env[k] = v;
  return { ...env, ...extra };
}

/** Runs `secretfile ARGS` and collects its output. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<Result> {
  const spawnOpts: SpawnOptions = { env: opts.env ?? cleanEnv(), cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] };
  if (opts.uid !== undefined) spawnOpts.uid = opts.uid;
  if (opts.gid !== undefined) spawnOpts.gid = opts.gid;
  const child = spawn(opts.node ?? process.execPath, [...(opts.nodeFlags ?? []), opts.bin ?? BIN, ...args], spawnOpts);
  return collect(child, opts.input, opts.timeoutMs);
}

/** Collects a child's output and status. */
export function collect(child: ReturnType<typeof spawn>, input?: string | Buffer, timeoutMs = 30_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(input ?? "");
  });
}

/** Makes a temporary folder, removed by the returned function. */
export function tempDir(prefix = "secretfile-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** True when the tests run as root (CI does): tests that need other uids skip otherwise. */
export const isRoot = process.getuid?.() === 0;

/**
 * Returns the exit code of `args` for secretfile's own failure `code`: `exec` ends as 100 + code so that its own
 * failures never look like its job's status (src/errors.ts, execOwnExit); every other command as `code`.
 */
export function ownExit(args: readonly string[], code: number): number {
  return args[0] === "exec" ? execOwnExit(code) : code;
}

/** The line `exec` adds after its own failure `code` (src/cli/report.ts, execFailed). */
export const notStarted = (code: number): string =>
  `secretfile: the job was not started: exit ${execOwnExit(code)} is secretfile's own failure (${code}), not the job's status\n`;
