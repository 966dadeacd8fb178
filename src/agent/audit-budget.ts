// Audit bytes per uid: each uid may have so many bytes of audit lines written per minute, so no caller can fill the log.
// Rules: a line is charged once written (its size is known then), so a uid may end a little over; a uid over its
// budget is answered `busy` until it is back under (checked before each request: a map lookup, no system call);
// buckets that are full again are forgotten, so the map stays as small as the set of busy uids.

/** A byte bucket per uid: `perMinute` bytes a minute, at most `perMinute` saved up. */
export class AuditBudget {
  private readonly buckets = new Map<number, { bytes: number; at: number }>();
  private readonly perMinute: number;
  private readonly now: () => number;

  constructor(perMinute: number, now: () => number = () => performance.now()) {
    this.perMinute = Math.max(1, perMinute);
    this.now = now;
  }

  /** The budget: bytes per minute per uid. */
  get size(): number {
    return this.perMinute;
  }

  /** Returns 0 when `uid` may have a line written now, else the ms until it may (it is over its budget). */
  wait(uid: number): number {
    const b = this.buckets.get(uid);
    if (b === undefined) return 0;
    const bytes = this.refill(b, this.now());
    return bytes > 0 ? 0 : Math.ceil(((1 - bytes) * 60_000) / this.perMinute);
  }

  /** Charges `bytes` of audit log to `uid`; returns true when this took it over its budget (it was under before). */
  charge(uid: number, bytes: number): boolean {
    const t = this.now();
    let b = this.buckets.get(uid);
    if (b === undefined) {
      if (this.buckets.size >= 10_000) this.forgetFull(t);
      b = { bytes: this.perMinute, at: t };
      this.buckets.set(uid, b);
    }
    const before = this.refill(b, t);
    b.bytes = before - bytes;
    return before > 0 && b.bytes <= 0;
  }

  private refill(b: { bytes: number; at: number }, t: number): number {
    b.bytes = Math.min(this.perMinute, b.bytes + ((t - b.at) * this.perMinute) / 60_000);
    b.at = t;
    return b.bytes;
  }

  private forgetFull(t: number): void {
    for (const [uid, b] of this.buckets) if (this.refill(b, t) >= this.perMinute) this.buckets.delete(uid);
  }
}
