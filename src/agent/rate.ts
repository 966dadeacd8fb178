// Request rates per uid: one token bucket per uid, so one user's flood cannot take the agent from the others.
// Rules: a uid starts with a full bucket (a burst of cron jobs at the top of the hour is normal); buckets that are
// full again are forgotten, so the map stays as small as the set of busy uids.

/** A token bucket per uid: `rate` tokens a second, at most `burst` saved up. */
export class UidRates {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(rate: number, burst: number, now: () => number = () => performance.now()) {
    this.rate = rate;
    this.burst = Math.max(1, burst);
    this.now = now;
  }

  /** Takes one token for `uid`; returns 0 when it had one, else the ms until it will have one. */
  take(uid: number): number {
    const t = this.now();
    let b = this.buckets.get(uid);
    if (b === undefined) {
      if (this.buckets.size >= 10_000) this.forgetFull(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(uid, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) * this.rate) / 1000);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / this.rate);
  }

  private forgetFull(t: number): void {
    for (const [uid, b] of this.buckets)
      if (b.tokens + ((t - b.at) * this.rate) / 1000 >= this.burst) this.buckets.delete(uid);
  }
}
