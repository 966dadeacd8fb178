// What /proc says of a caller's process (program, command line), for its audit line, read with a deadline.
// Rules: no read of a caller's /proc may hold up answering anyone: a read past its deadline gives "unknown" and
// tells its source (which then stops waiting on it); the uid it was for gets no /proc read for a while after, so one
// caller cannot stall the source again and again; a process that connects again within `reuseMs` (same pid and uid)
// is described by its first read, not read again (only a read that succeeded is kept); never throws, never rejects.

/** What the audit line records of a caller's process. */
export interface ProcessInfo {
  program: string | undefined;
  cmdline: string | undefined;
}

/** Where /proc is read (the helper process by default; tests give their own). */
export interface ProcSource {
  /** Returns what /proc says of `pid` (a process of `uid`); may never settle (a read blocked in the kernel). */
  read(pid: number, uid: number): Promise<ProcessInfo>;
  /** A read for `uid` missed its deadline: stop waiting on it, and on the other reads of that uid. */
  stuck?(uid: number): void;
  /**
   * Returns true when a read begun at `since` (performance.now) is late through no fault of its caller: the source
   * was starting (or restarting) after it began. Its deadline then starts again.
   */
  excuse?(since: number): boolean;
  /** Stops the source; reads still pending settle as unknown. */
  close?(): void;
}

/**
 * How long a caller's /proc may take, how long its uid then goes without, and for how long a process's read is
 * reused for its next connections (0: never; a process that execs another program within it is audited under the
 * first one, and a pid the kernel gives to another process of the same uid within it would be too: pids are reused
 * only after the kernel has gone through pid_max of them).
 */
export interface ProcDeadlines {
  deadlineMs: number;
  penaltyMs: number;
  reuseMs?: number;
}

/** A normal /proc read takes microseconds; a caller's own process cannot make the agent wait longer than this. */
export const DEFAULT_PROC_DEADLINES: ProcDeadlines = { deadlineMs: 250, penaltyMs: 60_000, reuseMs: 1_000 };

/** Reads kept for reuse past which the expired ones are dropped (each a few hundred bytes). */
const MAX_KEPT = 4096;

/** How many deadlines in a row a read may be excused (its source starting) before it is given up, unpenalized. */
const MAX_EXCUSES = 8;

/** Reads callers' /proc through a source, with a deadline per read and a penalty for the uid of a late one. */
export class ProcReader {
  private readonly source: ProcSource;
  private readonly limits: ProcDeadlines;
  /** uid → until when (ms, performance.now) its callers' /proc is not read. */
  private readonly penalty = new Map<number, number>();
  /** "pid:uid" → a read begun at `at` (performance.now), oldest first: what a process's next connections reuse. */
  private readonly kept = new Map<string, { at: number; info: Promise<ProcessInfo> }>();

  constructor(source: ProcSource, limits: ProcDeadlines = DEFAULT_PROC_DEADLINES) {
    this.source = source;
    this.limits = limits;
  }

  /**
   * Resolves with what /proc says of `pid`, or with a program that says why it is unknown; never rejects. A read of
   * the same process begun less than `reuseMs` ago (or still going) is shared rather than made again.
   */
  read(pid: number, uid: number): Promise<ProcessInfo> {
    const reuseMs = this.limits.reuseMs ?? 0;
    if (reuseMs <= 0) return this.readNow(pid, uid).then((r) => r.info);
    const key = `${pid}:${uid}`;
    const now = performance.now();
    const hit = this.kept.get(key);
    if (hit !== undefined && now - hit.at < reuseMs) return hit.info;
    this.kept.delete(key); // set again below, so the map stays oldest first
    if (this.kept.size >= MAX_KEPT) {
      for (const [k, v] of this.kept) {
        if (now - v.at < reuseMs) break;
        this.kept.delete(k);
      }
      if (this.kept.size >= MAX_KEPT) this.kept.clear();
    }
    const info: Promise<ProcessInfo> = this.readNow(pid, uid).then((r) => {
      if (!r.ok && this.kept.get(key)?.info === info) this.kept.delete(key);
      return r.info;
    });
    this.kept.set(key, { at: now, info });
    return info;
  }

  /** Reads `pid` from the source, with the deadline and penalty; `ok` is false when the answer is an unknown(). */
  private readNow(pid: number, uid: number): Promise<{ info: ProcessInfo; ok: boolean }> {
    const until = this.penalty.get(uid);
    if (until !== undefined) {
      if (performance.now() < until)
        return Promise.resolve({
          info: unknown(`an earlier /proc read of uid ${uid} took over ${this.limits.deadlineMs} ms`),
          ok: false,
        });
      this.penalty.delete(uid);
    }
    return new Promise((resolve) => {
      let since = performance.now();
      let excused = 0;
      const late = () => {
        if (excused < MAX_EXCUSES && this.source.excuse?.(since) === true) {
          excused++;
          since = performance.now();
          timer = setTimeout(late, this.limits.deadlineMs);
          return;
        }
        if (excused >= MAX_EXCUSES) {
          // Not this caller's fault (no penalty), but a source that does not start is replaced all the same.
          resolve({ info: unknown("the /proc reader is not starting"), ok: false });
          this.source.stuck?.(uid);
          return;
        }
        if (this.penalty.size >= 10_000) this.penalty.clear();
        this.penalty.set(uid, performance.now() + this.limits.penaltyMs);
        resolve({ info: unknown(`/proc did not answer in ${this.limits.deadlineMs} ms`), ok: false });
        this.source.stuck?.(uid);
      };
      let timer = setTimeout(late, this.limits.deadlineMs);
      this.source.read(pid, uid).then(
        (info) => {
          clearTimeout(timer);
          resolve({ info, ok: !isUnknown(info) });
        },
        () => {
          clearTimeout(timer);
          resolve({ info: unknown("/proc could not be read"), ok: false });
        },
      );
    });
  }

  /** Stops the source. */
  close(): void {
    this.source.close?.();
  }
}

/** Returns the details of a process /proc did not give, saying why in the program's place (in parentheses, as a comm is). */
export function unknown(why: string): ProcessInfo {
  return { program: `(unknown: ${why})`, cmdline: undefined };
}

/** True for what unknown() returns, or a read that found no such process: nothing worth reusing. */
function isUnknown(info: ProcessInfo): boolean {
  return info.program === undefined || info.program.startsWith("(unknown: ");
}
