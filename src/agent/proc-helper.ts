// Reading callers' /proc in a helper process of the agent's own, so a read blocked in the kernel never blocks the agent.
// Rules: the helper holds no secret (it starts with an empty environment and reads only /proc); a stuck helper is
// killed (SIGKILL ends even a read stuck on a FUSE-backed page, where a thread of the agent could never be stopped
// nor joined at exit) and replaced, its other reads sent again, those of the uid that stuck it answered "unknown";
// requests of one event-loop turn go out in one write.

import { spawn, type ChildProcess } from "node:child_process";
import { unknown, type ProcessInfo, type ProcSource } from "./proc-reader.js";

/** The longest command line kept in the audit log, in characters. */
export const MAX_CMDLINE = 1024;

/**
 * The helper's program: reads "ID PID" lines, answers each with one JSON line {i, p, c}. The program is /proc/PID/exe
 * (readable for our own uid or with CAP_SYS_PTRACE), else the comm name in parentheses; the command line is cmdline
 * with NULs as spaces, cut to MAX_CMDLINE characters. Each answer is written at once, so one stuck read holds up
 * only the reads after it. It waits for its requests in a blocking read of its standard input, not in an event loop:
 * it has nothing else to wait for, and a request is answered without the stream machinery's turns (every new
 * caller's first request waits for this answer; docs/benchmarks.md). It ends at the end of its input, and on any error
 * reading it (the agent starts another when it needs one).
 */
const HELPER = `"use strict";
const fs = require("fs");
const MAX = ${MAX_CMDLINE};
const buf = Buffer.alloc(MAX * 4);
const readProc = (pid, file) => {
  let fd;
  try { fd = fs.openSync("/proc/" + pid + "/" + file, "r"); } catch { return undefined; }
  try { return buf.toString("utf8", 0, fs.readSync(fd, buf, 0, buf.length, 0)); } catch { return undefined; } finally { fs.closeSync(fd); }
};
const info = (pid) => {
  let program;
  try { program = fs.readlinkSync("/proc/" + pid + "/exe"); } catch { const comm = readProc(pid, "comm"); program = comm === undefined ? undefined : "(" + comm.trim() + ")"; }
  const raw = readProc(pid, "cmdline");
  return { p: program, c: raw === undefined ? undefined : raw.replace(/\\0+$/, "").replaceAll("\\0", " ").slice(0, MAX) };
};
const input = Buffer.alloc(64 * 1024);
let rest = "";
fs.writeSync(1, "ready\\n");
for (;;) {
  let n;
  try { n = fs.readSync(0, input, 0, input.length, null); } catch (err) { if (err.code === "EINTR") continue; break; }
  if (n === 0) break;
  const lines = (rest + input.toString("latin1", 0, n)).split("\\n");
  rest = lines.pop();
  for (const line of lines) {
    const [i, pid] = line.split(" ").map(Number);
    if (!Number.isSafeInteger(i) || !Number.isSafeInteger(pid) || pid <= 0) continue;
    fs.writeSync(1, JSON.stringify({ i, ...info(pid) }) + "\\n");
  }
}
`;

/** The least time between two helper starts, ms: a helper that cannot start is not retried in a loop. */
const RESPAWN_MS = 100;

interface Pending {
  pid: number;
  uid: number;
  resolve: (info: ProcessInfo) => void;
}

/** A long-lived helper process that reads /proc for the agent. */
export class ProcHelper implements ProcSource {
  private child: ChildProcess | undefined;
  private pending = new Map<number, Pending>();
  private queued: string[] = [];
  private scheduled = false;
  private nextId = 1;
  private startedAt = -Infinity;
  /** When the current helper said it was ready (performance.now); undefined while it starts or when there is none. */
  private readyAt: number | undefined;
  private closed = false;
  private readonly log: (msg: string) => void;

  constructor(log: (msg: string) => void = () => undefined) {
    this.log = log;
  }

  /** Resolves with what /proc says of `pid`; unknown when the helper cannot run. */
  read(pid: number, uid: number): Promise<ProcessInfo> {
    if (this.closed) return Promise.resolve(unknown("the agent is stopping"));
    const id = this.nextId++;
    return new Promise<ProcessInfo>((resolve) => {
      this.pending.set(id, { pid, uid, resolve });
      this.send(id, pid);
    });
  }

  /** Starts the helper now, so that the first caller does not wait for it. */
  warm(): void {
    if (!this.closed && this.child === undefined) this.start();
  }

  /** Returns true when the helper started (or restarted) after `since`, or is starting: a read begun then is excused. */
  excuse(since: number): boolean {
    if (this.child === undefined) return this.queued.length > 0 && this.scheduled; // waiting to start again
    return this.readyAt === undefined || this.readyAt > since;
  }

  /** Kills the helper (stuck on a read of `uid`), answers that uid's reads "unknown" and sends the others again. */
  stuck(uid: number): void {
    const child = this.child;
    if (child !== undefined) {
      this.log(`the /proc reader did not answer for a caller of uid ${uid}: restarting it`);
      this.drop(child);
      child.kill("SIGKILL");
    }
    this.queued = [];
    this.warm();
    for (const [id, p] of this.pending) {
      if (p.uid === uid) {
        this.pending.delete(id);
        p.resolve(unknown(`/proc of uid ${uid} did not answer`));
      } else {
        this.send(id, p.pid);
      }
    }
  }

  /** Stops the helper; pending reads are answered "unknown". */
  close(): void {
    this.closed = true;
    const child = this.child;
    if (child !== undefined) {
      this.drop(child);
      child.kill("SIGKILL");
    }
    this.failAll("the agent is stopping");
  }

  private send(id: number, pid: number): void {
    this.queued.push(`${id} ${pid}\n`);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queued.length === 0) return;
    const child = this.child ?? this.start();
    if (child === undefined) {
      const wait = RESPAWN_MS - (performance.now() - this.startedAt);
      if (wait > 0) {
        // Started too recently to start again: these wait for the next start (their deadlines are excused meanwhile).
        this.scheduled = true;
        setTimeout(() => this.flush(), wait);
        return;
      }
      this.queued = [];
      this.failAll("the /proc reader cannot start");
      return;
    }
    child.stdin!.write(this.queued.join(""));
    this.queued = [];
  }

  private start(): ChildProcess | undefined {
    const now = performance.now();
    if (now - this.startedAt < RESPAWN_MS) return undefined;
    this.startedAt = now;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ["--max-old-space-size=32", "-e", HELPER], {
        stdio: ["pipe", "pipe", "ignore"],
        env: {},
        cwd: "/",
      });
    } catch (err) {
      this.log(`cannot start the /proc reader: ${String(err)}`);
      return undefined;
    }
    this.child = child;
    this.readyAt = undefined;
    let rest = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      const lines = (rest + d).split("\n");
      rest = lines.pop()!;
      for (const line of lines) this.answer(line);
    });
    child.stdin!.on("error", () => undefined);
    child.on("error", (err) => {
      this.log(`the /proc reader failed: ${String(err)}`);
      this.lost(child);
    });
    child.on("exit", () => this.lost(child));
    return child;
  }

  private answer(line: string): void {
    if (line === "ready") {
      this.readyAt = performance.now();
      return;
    }
    let data: { i?: unknown; p?: unknown; c?: unknown };
    try {
      data = JSON.parse(line) as typeof data;
    } catch {
      return;
    }
    const p = typeof data.i === "number" ? this.pending.get(data.i) : undefined;
    if (p === undefined) return;
    this.pending.delete(data.i as number);
    p.resolve({
      program: typeof data.p === "string" ? data.p : undefined,
      cmdline: typeof data.c === "string" ? data.c : undefined,
    });
  }

  /** The helper ended without being asked to: what it had is answered "unknown"; the next read starts another. */
  private lost(child: ChildProcess): void {
    if (this.child !== child) return;
    this.drop(child);
    this.failAll("the /proc reader ended");
  }

  private drop(child: ChildProcess): void {
    if (this.child === child) this.child = undefined;
    child.stdout?.removeAllListeners("data");
    child.stdout?.destroy();
    child.stdin?.destroy();
  }

  private failAll(why: string): void {
    const pending = this.pending;
    this.pending = new Map();
    for (const p of pending.values()) p.resolve(unknown(why));
  }
}
