// Masking secret values in a job's output, as a stream: each value (and its base64 and URL-encoded forms)
// becomes `[NAME]`. Rules: a value split across writes is still caught; only bytes that could begin a value are
// held back, so output flows as it comes; values shorter than MIN_MASK_LENGTH are not masked.

import { Transform, type TransformCallback } from "node:stream";

/** Values shorter than this many characters are not masked (they would mask ordinary words). */
export const MIN_MASK_LENGTH = 6;

interface Pattern {
  bytes: Buffer;
  label: Buffer;
}

/** Returns the byte patterns to mask for `secrets`: each value, its base64 (padded and not) and URL-encoded form. */
export function maskPatterns(secrets: Map<string, string>): Pattern[] {
  const seen = new Map<string, Pattern>();
  for (const [name, value] of secrets) {
    if ([...value].length < MIN_MASK_LENGTH) continue;
    const label = Buffer.from(`[${name}]`);
    const b64 = Buffer.from(value).toString("base64");
    for (const form of [value, b64, b64.replace(/=+$/, ""), encodeURIComponent(value)]) {
      const bytes = Buffer.from(form);
      const key = bytes.toString("hex");
      // The longer label wins nothing; the first secret to claim a form keeps it.
      if (!seen.has(key)) seen.set(key, { bytes, label });
    }
  }
  // Longest first, so that a value containing another is replaced whole.
  return [...seen.values()].sort((a, b) => b.bytes.length - a.bytes.length);
}

/** A Transform that masks `patterns` in the bytes passing through it. */
export class Masker extends Transform {
  private readonly patterns: Pattern[];
  private carry: Buffer = Buffer.alloc(0);

  constructor(patterns: Pattern[]) {
    super();
    this.patterns = patterns;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const { out, rest } = maskBuffer(buf, this.patterns, false);
    this.carry = rest;
    done(null, out.length > 0 ? out : undefined);
  }

  override _flush(done: TransformCallback): void {
    const { out } = maskBuffer(this.carry, this.patterns, true);
    this.carry = Buffer.alloc(0);
    done(null, out.length > 0 ? out : undefined);
  }
}

/**
 * Masks every pattern in `buf`. Unless `final`, the longest tail that could be the start of a pattern
 * is returned as `rest`, to be scanned again with the next chunk.
 */
export function maskBuffer(buf: Buffer, patterns: Pattern[], final: boolean): { out: Buffer; rest: Buffer } {
  const matches: { start: number; end: number; label: Buffer }[] = [];
  for (const p of patterns) {
    for (let at = buf.indexOf(p.bytes); at !== -1; at = buf.indexOf(p.bytes, at + 1)) {
      matches.push({ start: at, end: at + p.bytes.length, label: p.label });
    }
  }
  matches.sort((a, b) => a.start - b.start || b.end - a.end);
  const parts: Buffer[] = [];
  let pos = 0;
  for (const m of matches) {
    if (m.start < pos) continue; // overlaps a longer or earlier match already replaced
    parts.push(buf.subarray(pos, m.start), m.label);
    pos = m.end;
  }
  const hold = final ? 0 : heldTail(buf, pos, patterns);
  parts.push(buf.subarray(pos, buf.length - hold));
  return { out: Buffer.concat(parts), rest: Buffer.from(buf.subarray(buf.length - hold)) };
}

/** Returns how many bytes at the end of `buf` (after `from`) are a proper prefix of some pattern. */
function heldTail(buf: Buffer, from: number, patterns: Pattern[]): number {
  let hold = 0;
  for (const p of patterns) {
    const lowest = Math.max(from, buf.length - p.bytes.length + 1, 0);
    for (let at = buf.length - 1; at >= lowest; at--) {
      at = buf.lastIndexOf(p.bytes[0]!, at);
      if (at < lowest) break;
      if (buf.length - at > hold && p.bytes.subarray(0, buf.length - at).equals(buf.subarray(at))) hold = buf.length - at;
    }
  }
  return hold;
}
