// Running a helper program to its end within a deadline, its output collected rather than passed on (rotate's script
// and check). Rules: from an argv array, never a shell; in a process group of its own, all of which is killed at the
// deadline; each output is kept up to a bound and the rest counted, never held without end.

import childProcess from "node:child_process";
import os from "node:os";
import { errnoOf } from "../system/errno.js";
import { CannotRunError } from "./command-path.js";

/** How long a program may run before its whole process group is sent SIGTERM, then SIGKILL after KILL_GRACE_MS. */
export const KILL_GRACE_MS = 2_000;

/** What to run and how. */
export interface BoundedRun {
  /** The program's full path (resolveCommand) and what to call it (argv[0]). */
  file: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Written to its standard input, which is then closed. */
  input: string;
  /** The deadline, from the start. */
  timeoutMs: number;
  /** The most bytes kept of each output; the rest is dropped and counted. */
  maxBytes: number;
}

/** How it ended: its status (128+N for signal N), whether the deadline ended it, and its output. */
export interface BoundedResult {
  status: number;
  timedOut: boolean;
  stdout: Buffer;
  stderr: Buffer;
  /** Bytes of standard output beyond maxBytes, dropped. */
  stdoutDropped: number;
}

/** Runs `run` to its end or its deadline. Throws CannotRunError (126, 127) when it cannot start. */
export function runBounded(run: BoundedRun): Promise<BoundedResult> {
  const child = childProcess.spawn(run.file, run.args, {
    argv0: run.command,
    env: run.env,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out = collector(run.maxBytes);
  const err = collector(run.maxBytes);
  child.stdout.on("data", out.add);
  child.stderr.on("data", err.add);
  child.stdin.on("error", () => undefined); // a program that does not read its input closes the pipe early
  child.stdin.end(run.input);
  let timedOut = false;
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group has ended already
    }
  };
  let killer: NodeJS.Timeout | undefined;
  const deadline = setTimeout(() => {
    timedOut = true;
    group("SIGTERM");
    killer = setTimeout(() => group("SIGKILL"), KILL_GRACE_MS);
  }, run.timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", (e) => {
      clearTimeout(deadline);
      reject(new CannotRunError(run.command, errnoOf(e) === "EACCES" ? 126 : 127, { file: run.file, cause: e }));
    });
    // "close": its outputs are at their end too. A descendant that keeps them open is in its group, killed at the deadline.
    child.once("close", (code, signal) => {
      clearTimeout(deadline);
      clearTimeout(killer);
      group("SIGKILL"); // anything it left behind in its group
      const signals: Partial<Record<NodeJS.Signals, number>> = os.constants.signals;
      resolve({
        status: signal !== null ? 128 + (signals[signal] ?? 0) : (code ?? 1),
        timedOut,
        stdout: out.bytes(),
        stderr: err.bytes(),
        stdoutDropped: out.dropped(),
      });
    });
  });
}

/** Keeps the first `max` bytes given to `add`, and counts the rest. */
function collector(max: number): { add: (chunk: Buffer) => void; bytes: () => Buffer; dropped: () => number } {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  return {
    add: (chunk) => {
      const room = Math.max(0, max - kept);
      if (room > 0) chunks.push(chunk.subarray(0, room));
      kept += Math.min(room, chunk.length);
      dropped += Math.max(0, chunk.length - room);
    },
    bytes: () => Buffer.concat(chunks),
    dropped: () => dropped,
  };
}
