// The audit log: one JSON line per decision, appended by the agent, each line chained to the one before by hash.
// Rules: never a value; opened append-only without following a symlink or blocking on a FIFO, created 0600, in a
// folder no one else can write; a line that cannot be written makes the request fail (no unaudited release): a
// request's line is written with the others of its event-loop turn, and the request is answered only after that
// write; a change's intent line is also flushed (fdatasync) before the change is made; a refusal's line is bounded
// (its first name and a count); every line is charged to its uid's budget; every line's `prev` is the SHA-256 of
// the line before it (GENESIS for the first), read back at start.

import { createHash } from "node:crypto";
import { closeSync, constants, fdatasync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import path from "node:path";
import { GENESIS } from "../audit/chain.js";
import type { AuditRecord } from "../audit/record.js";
import { AccessError, FailureError } from "../errors.js";
import { checkTrustedFolder } from "../system/folder.js";
import { AuditBudget } from "./audit-budget.js";
import { ChainWriter } from "./audit-writer.js";
import { errnoOf } from "../system/errno.js";

const { O_RDWR, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = constants;

/** An append-only, hash-chained audit log file. */
export class AuditLog {
  readonly file: string;
  private fd: number;
  private writer: ChainWriter;
  private readonly failures = new WeakSet();
  /** The bytes each uid may have written per minute (none when the log was opened without a budget). */
  readonly budget: AuditBudget | undefined;
  /** When each uid last went over its budget (an event says so, at most once a minute per uid). */
  private readonly overAt = new Map<number, number>();
  /** The fdatasync running, and the one asked for while it runs (it covers every line written before it started). */
  private syncing: Promise<void> | undefined;
  private nextSync: Promise<void> | undefined;

  /**
   * Opens (or creates, mode 0600) `file` for appending and reads the hash of its last line, so the chain goes on
   * across restarts; `bytesPerUidPerMinute` sets each uid's budget (none when omitted). Throws AccessError (4) for an
   * unsafe file or folder, FailureError (1) when it cannot be opened.
   */
  constructor(file: string, opts: { bytesPerUidPerMinute?: number } = {}) {
    this.file = file;
    this.budget = opts.bytesPerUidPerMinute === undefined ? undefined : new AuditBudget(opts.bytesPerUidPerMinute);
    checkFolder(path.dirname(file));
    try {
      // O_RDWR to read the last line back; O_NONBLOCK so a FIFO planted at the path cannot hang the agent.
      this.fd = openSync(file, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ELOOP")
        throw new AccessError(`refusing to follow a symlink at the audit log ${file}`, {
          hint: `remove it; the agent creates ${file}`,
        });
      if (code === "EACCES" || code === "EPERM") {
        throw new AccessError(`permission denied opening the audit log ${file}`, {
          hint: `chown $(id -u) ${file} && chmod 600 ${file}, as the service account's admin`,
          cause: err,
        });
      }
      throw new FailureError(`cannot open the audit log ${file}: ${code ?? String(err)}`, {
        hint: "create its folder, owned by the service account (`sudo secretfile setup` does)",
        cause: err,
      });
    }
    try {
      const st = fstatSync(this.fd);
      if (!st.isFile() || (st.mode & 0o022) !== 0 || st.uid !== process.getuid?.()) {
        throw new AccessError(
          `the audit log ${file} is not a private regular file of this user (${st.isFile() ? "a file" : "not a regular file"}, mode ${(st.mode & 0o777).toString(8)}, uid ${st.uid})`,
          {
            hint: st.isFile()
              ? `chown ${process.getuid?.()} ${file} && chmod 600 ${file}, as root`
              : `move ${file} aside; the agent creates it`,
          },
        );
      }
      this.writer = new ChainWriter(this.fd, lastLineHash(this.fd, st.size));
    } catch (err) {
      closeSync(this.fd);
      if (err instanceof AccessError) throw err;
      throw new FailureError(`cannot read the end of the audit log ${file}: ${errnoOf(err) ?? String(err)}`, {
        cause: err,
      });
    }
  }

  /** The hash of the last line written: the `prev` of the next one. */
  get head(): string {
    return this.writer.head;
  }

  /**
   * Appends one record with the current time, with the other records of this event-loop turn in one write.
   * Resolves with that time (ISO 8601) once the line is in the file; rejects with FailureError when it is not.
   */
  record(record: AuditRecord): Promise<string> {
    const time = new Date().toISOString();
    const { done, bytes } = this.writer.later({ time, ...bounded(record) });
    this.charge(record.uid, bytes);
    return done.then(
      () => time,
      (err: unknown) => {
        throw this.failure(err);
      },
    );
  }

  /**
   * Appends one record as record() does, then flushes the file to disk (fdatasync, shared by the lines of a turn):
   * the line of a change, written before the change. Resolves with its time once it is on disk; rejects with
   * FailureError when it is not (the change must then not be made).
   */
  async commit(record: AuditRecord): Promise<string> {
    const time = await this.record(record);
    try {
      await this.sync();
    } catch (err) {
      throw this.failure(err);
    }
    return time;
  }

  /** Appends one record now, with the current time; returns that time (ISO 8601). Throws FailureError if it cannot be written. */
  write(record: AuditRecord): string {
    const time = new Date().toISOString();
    try {
      this.writer.now({ time, ...record });
      return time;
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Appends an event that is not a request (start, stop, policy reload), now. */
  event(event: string, detail: Record<string, unknown>): void {
    try {
      this.writer.now({ time: new Date().toISOString(), event, ...detail });
    } catch {
      // Best effort: events are not decisions.
    }
  }

  /** Writes what is queued, then closes the file. */
  close(): void {
    this.writer.flush();
    closeSync(this.fd);
  }

  /** Returns true when `err` is this log's failure to write a line (which cannot itself be audited). */
  isFailure(err: unknown): boolean {
    return typeof err === "object" && err !== null && this.failures.has(err);
  }

  /**
   * Resolves once every line written before the call is on disk: a flush that started earlier may have missed it, so
   * a call made while one runs waits for the next, which every caller of that moment shares.
   */
  private sync(): Promise<void> {
    if (this.nextSync !== undefined) return this.nextSync;
    const start = (): Promise<void> => {
      const p = new Promise<void>((resolve, reject) =>
        fdatasync(this.fd, (err) => (err === null ? resolve() : reject(err))),
      );
      this.syncing = p;
      const clear = () => {
        if (this.syncing === p) this.syncing = undefined;
      };
      p.then(clear, clear);
      return p;
    };
    if (this.syncing === undefined) return start();
    const next = this.syncing
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.nextSync = undefined;
        return start();
      });
    this.nextSync = next;
    return next;
  }

  private charge(uid: number, bytes: number): void {
    if (this.budget === undefined || !this.budget.charge(uid, bytes)) return;
    const now = Date.now();
    if (now - (this.overAt.get(uid) ?? -Infinity) < 60_000) return;
    if (this.overAt.size >= 10_000) this.overAt.clear();
    this.overAt.set(uid, now);
    this.event("audit-budget", { uid, bytesPerMinute: this.budget.size, answer: "busy" });
  }

  private failure(err: unknown): FailureError {
    const code = errnoOf(err);
    const failure = new FailureError(
      `cannot write the audit log ${this.file}${code === undefined ? "" : `: ${code}`}`,
      {
        hint:
          code === "ENOSPC"
            ? `free some space on the file system of ${this.file}`
            : "check free space and the file's permissions",
        cause: err,
      },
    );
    this.failures.add(failure);
    return failure;
  }
}

/** Returns `record` as written: a refusal keeps only its first name, and says how many it left out. */
function bounded(record: AuditRecord): AuditRecord {
  if (record.allowed || record.names.length <= 1) return record;
  return { ...record, names: record.names.slice(0, 1), given: [], omitted: record.names.length - 1 };
}

/** Refuses an audit folder another user could swap the log in (src/system/folder.ts). */
function checkFolder(dir: string): void {
  checkTrustedFolder(dir, {
    what: "audit folder",
    owner: "self",
    risk: "replace the log",
    createHint: "create it, owned by the service account, mode 0700 (`sudo secretfile setup` does)",
    kindHint: "point --audit at a file in a real folder owned by the service account",
  });
}

const CHUNK = 64 * 1024;

/**
 * Returns the hash of the last line of the open log (`size` bytes), GENESIS for an empty one. A last line without
 * its newline (a crash mid-write) is ended with one first, so the next line cannot run into it.
 */
function lastLineHash(fd: number, size: number): string {
  if (size === 0) return GENESIS;
  const one = Buffer.alloc(1);
  readSync(fd, one, 0, 1, size - 1);
  let end = size;
  if (one[0] === 0x0a) end = size - 1;
  else writeSync(fd, "\n");
  // Back to the newline before the last line, a chunk at a time; then hash forward, so a huge line costs no memory.
  const buf = Buffer.alloc(CHUNK);
  let start = 0;
  for (let pos = end; pos > 0;) {
    const from = Math.max(0, pos - CHUNK);
    const n = readSync(fd, buf, 0, pos - from, from);
    const nl = buf.subarray(0, n).lastIndexOf(0x0a);
    if (nl !== -1) {
      start = from + nl + 1;
      break;
    }
    pos = from;
  }
  const hash = createHash("sha256");
  for (let pos = start; pos < end;) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK, end - pos), pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest("hex");
}
