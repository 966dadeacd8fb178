// Appending hash-chained lines to the open audit log: the lines of one event-loop turn go out in one write.
// Rules: a line counts as written only once all its bytes, newline included, are in the file, and only then does
// its waiter go on; `prev` always names the hash of the bytes really before the line in the file, so a write that
// fails part-way leaves the chain pointing at what it did write (a line cut short is ended with a newline first).

import { writeSync } from "node:fs";
import { hashLine } from "../audit/chain.js";

const NEWLINE = Buffer.from("\n");

interface Waiter {
  /** Where the line's newline ends, in bytes from the start of its batch. */
  end: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Chains and appends JSON lines to a file descriptor opened for appending. */
export class ChainWriter {
  private readonly fd: number;
  /** The hash of the last line queued: the `prev` of the next one. */
  private last: string;
  /** The hash of the last line in the file (or of the bytes after its last newline when `torn`). */
  private written: string;
  /** The file ends inside a line (a write failed part-way): the next write starts with a newline. */
  private torn = false;
  private lines: Buffer[] = [];
  private waiters: Waiter[] = [];
  private size = 0;
  private scheduled = false;

  constructor(fd: number, head: string) {
    this.fd = fd;
    this.last = head;
    this.written = head;
  }

  /** The hash of the last line queued or written: the `prev` of the next one. */
  get head(): string {
    return this.last;
  }

  /**
   * Queues one line, written with the others of this event-loop turn; returns its size in bytes (newline included)
   * and `done`, which resolves once it is in the file and rejects with the write's error when it is not (the line is
   * then not in the file, or cut short).
   */
  later(fields: Record<string, unknown>): { done: Promise<void>; bytes: number } {
    const before = this.size;
    const end = this.queue(fields);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return {
      done: new Promise<void>((resolve, reject) => this.waiters.push({ end, resolve, reject })),
      bytes: end - before,
    };
  }

  /** Writes one line now, after those queued before it. Throws the write's error when it is not all in the file. */
  now(fields: Record<string, unknown>): void {
    const end = this.queue(fields);
    const { done, error } = this.flush();
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the write's caught error unchanged
    if (done < end) throw error ?? new Error("short write");
  }

  /** Writes every queued line; returns how many bytes of them reached the file, and the error that stopped it. */
  flush(): { done: number; error?: unknown } {
    this.scheduled = false;
    if (this.lines.length === 0) return { done: 0 };
    const lines = this.lines;
    const waiters = this.waiters;
    this.lines = [];
    this.waiters = [];
    this.size = 0;
    const lead = this.torn ? 1 : 0;
    const parts: Buffer[] = lead === 1 ? [NEWLINE] : [];
    for (const line of lines) parts.push(line, NEWLINE);
    const bytes = Buffer.concat(parts);
    let sent = 0;
    let error: unknown;
    try {
      while (sent < bytes.length) {
        const n = writeSync(this.fd, bytes, sent, bytes.length - sent);
        if (n <= 0) throw new Error("the audit log took no bytes");
        sent += n;
      }
    } catch (err) {
      error = err;
    }
    const done = Math.max(0, sent - lead);
    if (error === undefined) {
      this.torn = false;
      this.written = this.last;
    } else {
      this.settleChain(lines, sent >= lead, done);
    }
    for (const w of waiters) {
      if (w.end <= done) w.resolve();
      else w.reject(error);
    }
    return { done, error };
  }

  /** After a failed write of `lines`, of which `done` bytes reached the file: chains the next line to what is there. */
  private settleChain(lines: Buffer[], repaired: boolean, done: number): void {
    let hash = this.written;
    let torn = this.torn && !repaired;
    let at = 0;
    for (const line of lines) {
      if (at + line.length + 1 <= done) {
        hash = hashLine(line);
        at += line.length + 1;
        continue;
      }
      const part = done - at;
      if (part > 0) {
        hash = hashLine(line.subarray(0, part));
        torn = true;
      }
      break;
    }
    this.written = hash;
    this.last = hash;
    this.torn = torn;
  }

  private queue(fields: Record<string, unknown>): number {
    const line = Buffer.from(JSON.stringify({ prev: this.last, ...fields }));
    this.last = hashLine(line);
    this.lines.push(line);
    this.size += line.length + 1;
    return this.size;
  }
}
