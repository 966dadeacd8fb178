// Finding many byte patterns in one pass: a table of 4-byte grams, looked up only every `step` bytes.
// Rules: every occurrence of every pattern that lies wholly in the buffer is found, exactly once; a pattern is at
// least MIN_BYTES long; memory stays small whatever the number of patterns (the step shrinks instead).

/** The shortest pattern the index takes, in bytes. */
export const MIN_BYTES = 4;

/** Gram entries kept at most: the step is made smaller when there are many patterns, so memory stays bounded. */
const MAX_ENTRIES = 1 << 18;
const GRAM = 4;
const PREFIX_BITS = 20;

/** One occurrence: pattern `pattern` at `start`. */
export interface Hit {
  start: number;
  pattern: number;
}

/**
 * An index of `patterns` (each at least MIN_BYTES long). Any occurrence at p covers the first `shortest` bytes from p,
 * and a window of `step` = shortest - 3 positions holds exactly one sampled position (a multiple of `step`); the
 * table holds each pattern's grams at offsets 0..step-1, so the sampled gram finds it, at one offset only.
 */
export class GramIndex {
  private readonly patterns: Uint8Array[];
  private readonly step: number;
  private readonly shift: number;
  private readonly heads: Int32Array;
  private readonly grams: Int32Array;
  private readonly owner: Int32Array;
  private readonly offset: Int32Array;
  private readonly next: Int32Array;
  /** The patterns in byte order: a binary search says whether some pattern starts with given bytes. */
  private readonly sorted: Buffer[];
  /** A bit per hash of the patterns' first 4 bytes: most places cannot begin a pattern, and this says so at once. */
  private readonly starts = new Uint32Array(1 << (PREFIX_BITS - 5));
  /** The longest pattern's length. */
  readonly longest: number;

  constructor(patterns: Uint8Array[]) {
    if (patterns.some((p) => p.length < MIN_BYTES))
      throw new RangeError(`a pattern is shorter than ${MIN_BYTES} bytes`);
    this.patterns = patterns;
    const shortest = patterns.reduce((n, p) => Math.min(n, p.length), Infinity);
    this.longest = patterns.reduce((n, p) => Math.max(n, p.length), 0);
    this.step = Math.max(1, Math.min(shortest - GRAM + 1, Math.floor(MAX_ENTRIES / Math.max(1, patterns.length))));
    const entries = patterns.length * this.step;
    const bits = Math.max(8, Math.ceil(Math.log2(entries * 2)));
    this.shift = 32 - bits;
    this.heads = new Int32Array(1 << bits).fill(-1);
    this.grams = new Int32Array(entries);
    this.owner = new Int32Array(entries);
    this.offset = new Int32Array(entries);
    this.next = new Int32Array(entries);
    let e = 0;
    patterns.forEach((p, i) => {
      const h = Math.imul(read32(p, 0), 0x9e3779b1) >>> (32 - PREFIX_BITS);
      this.starts[h >>> 5]! |= 1 << (h & 31);
      for (let o = 0; o < this.step; o++, e++) {
        const g = read32(p, o);
        const h = Math.imul(g, 0x9e3779b1) >>> this.shift;
        this.grams[e] = g;
        this.owner[e] = i;
        this.offset[e] = o;
        this.next[e] = this.heads[h]!;
        this.heads[h] = e;
      }
    });
    this.sorted = patterns
      .map((p) => Buffer.from(p.buffer, p.byteOffset, p.length))
      .sort((a, b) => Buffer.compare(a, b));
  }

  /** Appends to `hits` every occurrence lying wholly in `buf`, in no particular order. */
  find(buf: Uint8Array, hits: Hit[]): void {
    const { step, shift, heads, grams, owner, offset, next, patterns } = this;
    const len = buf.length;
    for (let pos = 0; pos + GRAM <= len; pos += step) {
      const g = buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24);
      for (let e = heads[Math.imul(g, 0x9e3779b1) >>> shift]!; e !== -1; e = next[e]!) {
        if (grams[e] !== g) continue;
        const start = pos - offset[e]!;
        const p = patterns[owner[e]!]!;
        if (start >= 0 && start + p.length <= len && matchesAt(buf, start, p)) hits.push({ start, pattern: owner[e]! });
      }
    }
  }

  /**
   * Returns where the bytes that may begin a pattern completed by later input start: the first position at or after
   * `from` whose bytes up to the end of `buf` are a proper prefix of some pattern; `buf.length` when there is none.
   */
  heldFrom(buf: Buffer, from: number): number {
    const len = buf.length;
    for (let at = Math.max(from, len - this.longest + 1, 0); at < len; at++) {
      if (at + GRAM <= len) {
        const h = Math.imul(read32(buf, at), 0x9e3779b1) >>> (32 - PREFIX_BITS);
        if ((this.starts[h >>> 5]! & (1 << (h & 31))) === 0) continue;
      }
      if (this.beginsPattern(buf, at)) return at;
    }
    return len;
  }

  /** Returns true when buf[at..] is a proper prefix of some pattern. */
  private beginsPattern(buf: Buffer, at: number): boolean {
    const { sorted } = this;
    const tail = buf.length - at;
    // The first pattern not less than the tail: if any pattern begins with the tail, this one does.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]!.compare(buf, at) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (const p of [sorted[lo], sorted[lo + 1]])
      if (p !== undefined && p.length > tail && p.compare(buf, at, buf.length, 0, tail) === 0) return true;
    return false;
  }
}

function read32(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}

function matchesAt(buf: Uint8Array, start: number, p: Uint8Array): boolean {
  for (let k = 0; k < p.length; k++) if (buf[start + k] !== p[k]) return false;
  return true;
}
