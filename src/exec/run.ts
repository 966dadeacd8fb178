// Running the job: from an argv array (never a shell), signals passed through, its status returned.
// Rules: exit with the job's status, 128+N when a signal N killed it; 127 when it is not found, 126 when it cannot run;
// output is masked unless asked not to, and then it never waits for the job to end before passing output on.

import childProcess from "node:child_process";
import os from "node:os";
import type { Readable, Writable } from "node:stream";
import streams from "node:stream/promises";
import tty from "node:tty";
import { ExitCode, FailureError } from "../errors.js";
import { errnoName, isNativeError, native, type Native } from "../system/native.js";
import { writeFully } from "../system/write-fd.js";
import { CannotRunError, resolveCommand } from "./command-path.js";
import { environmentBlock, environmentRecord, type JobEnvironment } from "./environment.js";
import { isMaskable, MaskCarry, maskPatterns } from "./mask.js";
import { catchSignals, routeSignals } from "./signals.js";
import { errnoOf } from "../system/errno.js";

type Patterns = ReturnType<typeof maskPatterns>;

/** The signals a terminal sends to its whole foreground process group. */
const TERMINAL_SIGNALS: ReadonlySet<string> = new Set(["SIGINT", "SIGQUIT", "SIGWINCH"]);

/**
 * Returns the masking patterns of `values` as a function that builds them when first called (10,000 values take
 * longer to turn into patterns than Node takes to start, and a job that prints nothing never needs them), or undefined
 * when no value would be masked (then the job gets the terminal directly).
 */
export function maskOnDemand(values: Map<string, string>): (() => Patterns) | undefined {
  if (![...values.values()].some(isMaskable)) return undefined;
  let patterns: Patterns | undefined;
  return () => (patterns ??= maskPatterns(values));
}

/** Where the job's program is looked for, and how its output is handled. */
export interface RunOptions {
  /**
   * The PATH to find COMMAND in: the caller's own, as secretfile was started with, never the job's (a secret or a
   * .env line named PATH must not choose the program). Unset: execvp's default, /bin:/usr/bin.
   */
  searchPath: string | undefined;
  /** The patterns to mask in the job's standard output and error (see maskOnDemand); none: the job gets the terminal. */
  mask?: () => Patterns;
}

/** A job started: how to pass it a signal, and its exit status (known once its output is passed on as well). */
interface Job {
  kill(signal: NodeJS.Signals): void;
  status: Promise<number>;
}

/** How to start a job: its full path, argv[0], the rest of its argv, its environment; in a process group of its own? */
interface Start {
  file: string;
  command: string;
  args: string[];
  env: JobEnvironment;
  newGroup: boolean;
  mask: (() => Patterns) | undefined;
}

/**
 * Runs `argv` with `env`, forwarding signals; resolves with the exit status the CLI should end with
 * (the job's own, or 128+N for signal N). With patterns to mask, the job's output passes through the
 * masking; without, the job inherits the terminal.
 * The job starts through the native addon (a vfork-like clone, killed by the kernel if secretfile dies first), or
 * node:child_process when the build made none: both give it every signal at its default and none blocked. Never
 * process.execve (Node 22.15 and newer), which would hand the job Node's own signal state: SIGPIPE and SIGXFSZ
 * ignored, and SIGUSR1 blocked under --disable-sigusr1.
 */
export async function runJob(argv: string[], env: JobEnvironment, opts: RunOptions): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) throw new FailureError("no command to run");
  const file = resolveCommand(command, opts.searchPath);
  const addon = native();
  // At a terminal the job stays in our process group, the terminal's foreground group: the terminal's own
  // INT, QUIT and WINCH reach it directly, so forwarding those would deliver them twice. Without a terminal
  // (cron, systemd) the job gets a process group of its own, so a signal to our group reaches it once, via us.
  // (Default imports: the build loads node:tty, node:child_process and the streams only when one of them is used.)
  const isTerminal = addon ? (fd: number) => addon.isTerminal(fd) : tty.isatty;
  const atTerminal = [0, 1, 2].some((fd) => isTerminal(fd));
  // Every terminating signal is caught before the job starts (one that arrives while it starts is passed on once it
  // exists), and stays caught until secretfile ends: the job is never left behind by a signal secretfile could catch.
  catchSignals();
  const start: Start = { file, command, args, env, newGroup: !atTerminal, mask: opts.mask };
  const job = addon === undefined ? await startWithNode(start) : startNatively(addon, start);
  const stop = routeSignals((signal) => {
    if (!(atTerminal && TERMINAL_SIGNALS.has(signal))) job.kill(signal);
  });
  try {
    return await job.status;
  } finally {
    stop();
  }
}

/** Starts the job through the addon (native/spawn.c); its output, when masked, comes back here in chunks. */
function startNatively(addon: Native, start: Start): Job {
  const outputs = start.mask === undefined ? [] : [new MaskedOutput(1, start.mask), new MaskedOutput(2, start.mask)];
  let settle: (status: number) => void = () => undefined;
  const status = new Promise<number>((resolve) => (settle = resolve));
  const onEvent = (kind: number, data: Buffer | number, signal?: number) => {
    if (kind !== 0) return outputs[kind - 1]?.write(data as Buffer);
    for (const output of outputs) output.end();
    settle(
      signal !== undefined && signal > 0 ? 128 + signal : (data as number) < 0 ? ExitCode.failure : (data as number),
    );
  };
  const environment = environmentBlock(start.env);
  const spawn = (file: string, argv: string[]): number => {
    try {
      return addon.spawn(file, argv, environment, start.newGroup, start.mask !== undefined, onEvent);
    } catch (err) {
      if (!isNativeError(err)) throw err;
      const code = errnoName(err.errno);
      // A script without a #! line: run by the shell, as execvp (and so node:child_process) does.
      if (code === "ENOEXEC" && file !== SHELL) return spawn(SHELL, [start.command, start.file, ...start.args]);
      throw new CannotRunError(start.command, code === "EACCES" ? 126 : 127, { file: start.file, cause: err });
    }
  };
  let pid: number;
  try {
    pid = spawn(start.file, [start.command, ...start.args]);
  } finally {
    environment.fill(0); // the addon made its own copy; this one held the values
  }
  return {
    kill: (signal) => {
      try {
        process.kill(pid, signal);
      } catch {
        // it has ended already
      }
    },
    status,
  };
}

/** The shell execvp hands a file without a #! line to. */
const SHELL = "/bin/sh";

/** One of the job's outputs on its way to ours (1 or 2), masked; once ours is closed (EPIPE), the rest is dropped. */
class MaskedOutput {
  private readonly fd: number;
  private readonly patterns: () => Patterns;
  private carry: MaskCarry | undefined;
  private closed = false;

  constructor(fd: number, patterns: () => Patterns) {
    this.fd = fd;
    this.patterns = patterns;
  }

  write(chunk: Buffer): void {
    this.put(() => (this.carry ??= new MaskCarry(this.patterns())).write(chunk));
  }

  end(): void {
    this.put(() => this.carry?.end());
  }

  /**
   * Writes what `masked` returns; any error (ours closed, or one of masking's own) stops this output, as the stream
   * pipeline of the fallback does: it is called from the addon's queue, where a throw would end the process.
   */
  private put(masked: () => Buffer | undefined): void {
    if (this.closed) return;
    try {
      const bytes = masked();
      if (bytes !== undefined && bytes.length > 0) writeFully(this.fd, bytes);
    } catch {
      this.closed = true;
    }
  }
}

/** Starts the job through node:child_process (the build loads it only then), its output masked by a stream. */
async function startWithNode(start: Start): Promise<Job> {
  const masking = start.mask !== undefined;
  const child = childProcess.spawn(start.file, start.args, {
    argv0: start.command,
    env: environmentRecord(start.env),
    detached: start.newGroup,
    stdio: masking ? ["inherit", "pipe", "pipe"] : "inherit",
  });
  const outputs: Promise<void>[] = [];
  if (masking) {
    for (const [from, to] of [
      [child.stdout!, process.stdout],
      [child.stderr!, process.stderr],
    ] as const) {
      outputs.push(maskedCopy(from, to, start.mask!).catch(() => undefined));
    }
  }
  const exited = new Promise<number>((resolve, reject) => {
    child.once("error", (err) =>
      reject(
        new CannotRunError(start.command, errnoOf(err) === "EACCES" ? 126 : 127, { file: start.file, cause: err }),
      ),
    );
    child.once("exit", (code, signal) => {
      // Partial: NodeJS.Signals names signals this platform lacks (SIGINFO, SIGLOST on Linux), absent from the table.
      const signals: Partial<Record<NodeJS.Signals, number>> = os.constants.signals;
      resolve(signal !== null ? 128 + (signals[signal] ?? 0) : (code ?? 1));
    });
  });
  return {
    kill: (signal) => child.kill(signal),
    status: exited.then(async (status) => (await Promise.all(outputs), status)),
  };
}

/** Copies the job's `from` to `to` through a Masker, building the patterns once the job has written something. */
async function maskedCopy(from: Readable, to: Writable, patterns: () => Patterns): Promise<void> {
  const { Masker } = await import("./mask-stream.js");
  await new Promise((resolve) => from.once("readable", resolve).once("error", resolve));
  await streams.pipeline(from, new Masker(from.readableLength > 0 ? patterns() : []), to, { end: false });
}
