// Running the system programs setup needs (useradd, systemctl, secretfile as the service account).
// Rules: a child runs from an argv array, never through a shell; its output is collected, never echoed.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { FailureError } from "../errors.js";
import { errnoOf } from "../system/errno.js";

/** What a finished child left. */
export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** How to run a child. */
export interface RunProgramOptions {
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed with SIGKILL after this many milliseconds (default 120 s). */
  timeoutMs?: number;
  /** Written to its standard input (closed otherwise). */
  input?: Buffer;
}

/**
 * Runs `file ARGS`, standard input `opts.input` or empty, and resolves with its status and output.
 * Throws FailureError when it cannot be started at all (not found, not executable).
 */
export function runProgram(file: string, args: string[], opts: RunProgramOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? "/",
      ...(opts.uid === undefined ? {} : { uid: opts.uid }),
      ...(opts.gid === undefined ? {} : { gid: opts.gid }),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // A child that exits without reading it all is judged by its status, not by the broken pipe.
    child.stdin.on("error", () => undefined).end(opts.input);
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.once("error", (err: Error) => {
      clearTimeout(timer);
      reject(new FailureError(`cannot run ${file}: ${errnoOf(err) ?? err.message}`, { cause: err }));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Returns the first of `candidates` that exists, else the last one (so the error names a plausible path). */
export function firstExisting(candidates: readonly string[]): string {
  return candidates.find((c) => existsSync(c)) ?? candidates[candidates.length - 1]!;
}

/** Returns the line of a child's standard error that says what went wrong (the first naming an error, else the first). */
export function firstLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.find((l) => /error|denied|EACCES/i.test(l)) ?? lines[0] ?? "no output";
}
