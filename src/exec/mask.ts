// Masking secret values in a job's output, as a stream: each value (and its base64, base64url, hex and URL-encoded
// forms, base64 also inside longer encoded data such as a Basic-auth header) becomes `[NAME]`. Rules: a value split across writes is still caught; only bytes that could begin a value are
// held back, so output flows as it comes; values shorter than MIN_MASK_LENGTH are not masked; the output is
// scanned once whatever the number of values (mask-index.ts), and passed on uncopied where nothing is masked.

import { applyFilter } from "../render/template.js";
import { GramIndex, type Hit } from "./mask-index.js";

const EMPTY = Buffer.alloc(0);

/** Values shorter than this many characters are not masked (they would mask ordinary words). */
export const MIN_MASK_LENGTH = 6;

/** Returns true when `text` is long enough to be masked: every such value gives maskPatterns() a pattern or more. */
export function isMaskable(text: string): boolean {
  return [...text].length >= MIN_MASK_LENGTH;
}

export interface Pattern {
  bytes: Buffer;
  label: Buffer;
}

/**
 * Returns the byte patterns to mask for `secrets`: each value; its base64 (padded and not) and base64url (unpadded),
 * and in both alphabets the runs of characters the value alone decides wherever it sits in longer encoded data; its
 * hex in both cases; its URL-encoded form; each line of a multi-line value; and the inside of render's `json` and `sh`
 * forms (the same as the value unless it holds a character they escape). A value of MIN_MASK_LENGTH characters or more
 * has runs of 7 characters or more.
 */
export function maskPatterns(secrets: Map<string, string>): Pattern[] {
  const seen = new Map<string, Pattern>();
  for (const [name, value] of secrets) {
    if (!isMaskable(value)) continue;
    const label = Buffer.from(`[${name}]`);
    const bytes = Buffer.from(value);
    // The first secret to claim a form keeps it (the same text, the same bytes); the longer label wins nothing.
    const add = (form: string) => seen.has(form) || seen.set(form, { bytes: Buffer.from(form), label });
    add(value);
    const b64 = bytes.toString("base64");
    add(b64);
    for (const form of [b64.replace(/=+$/, ""), ...base64Runs(bytes)]) {
      add(form);
      add(toBase64url(form));
    }
    for (const line of linesOf(value)) add(line);
    // As `render`'s filters write it into a file the job may print: a JSON string's inside, a shell word's inside.
    add(applyFilter(value, "json").slice(1, -1));
    add(applyFilter(value, "sh").slice(1, -1));
    const hex = bytes.toString("hex");
    add(hex);
    add(hex.toUpperCase());
    add(encodeURIComponent(value));
  }
  // Longest first, so that a value containing another is replaced whole.
  return [...seen.values()].sort((a, b) => b.bytes.length - a.bytes.length);
}

/**
 * Returns, for each place the value can start in base64 data (its byte offset 0, 1 or 2 mod 3), the characters
 * encoded from the value's bits alone: the first and last character of the value's stretch also hold bits of the
 * data around it (a prefix such as "user:"), and are left out.
 */
function base64Runs(bytes: Buffer): string[] {
  const runs: string[] = [];
  const padded = Buffer.alloc(2 + bytes.length);
  bytes.copy(padded, 2);
  for (let offset = 0; offset < 3; offset++) {
    const encoded = padded.subarray(2 - offset).toString("base64");
    runs.push(encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6)));
  }
  return runs;
}

/** Returns base64 `text` in the URL alphabet (RFC 4648 §5); padding is left as it is. */
function toBase64url(text: string): string {
  return text.replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * Returns the lines of a multi-line value (a PEM key, a JSON blob), each without its surrounding blanks, that are long
 * enough to mask: a job may print one line of it alone. A one-line value gives none.
 */
function linesOf(value: string): string[] {
  if (!/[\r\n]/.test(value)) return [];
  return value
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter(isMaskable);
}

/** Masks output that comes in chunks: each chunk lets out what cannot begin a value completed by the next one. */
export class MaskCarry {
  private readonly patterns: Pattern[];
  private carry: Buffer = EMPTY;

  constructor(patterns: Pattern[]) {
    this.patterns = patterns;
  }

  /** Returns the masked bytes `chunk` lets out (maybe none). */
  write(chunk: Buffer): Buffer {
    const { out, rest } = maskBuffer(
      this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]),
      this.patterns,
      false,
    );
    this.carry = rest;
    return out;
  }

  /** Returns what was held back, masked: the end of the output. */
  end(): Buffer {
    const { out } = maskBuffer(this.carry, this.patterns, true);
    this.carry = EMPTY;
    return out;
  }
}

/** Each pattern list's index, built once (stdout and stderr share one list). */
const indexes = new WeakMap<Pattern[], GramIndex>();

function indexOf(patterns: Pattern[]): GramIndex {
  let index = indexes.get(patterns);
  if (index === undefined) {
    index = new GramIndex(patterns.map((p) => p.bytes));
    indexes.set(patterns, index);
  }
  return index;
}

/**
 * Masks every pattern in `buf`; where patterns overlap, the earliest wins, then the longest. Unless `final`, the
 * bytes that could begin a pattern completed by the next chunk are returned as `rest`, to be scanned again with it
 * (matches starting there wait for it too, so the output does not depend on where the job's writes were cut).
 * `out` is `buf` itself (or part of it) when nothing is masked.
 */
export function maskBuffer(buf: Buffer, patterns: Pattern[], final: boolean): { out: Buffer; rest: Buffer } {
  const index = indexOf(patterns);
  const hits: Hit[] = [];
  index.find(buf, hits);
  if (hits.length > 1)
    hits.sort((a, b) => a.start - b.start || patterns[b.pattern]!.bytes.length - patterns[a.pattern]!.bytes.length);
  let held = final ? buf.length : index.heldFrom(buf, 0);
  const parts: Buffer[] = [];
  let pos = 0;
  for (const hit of hits) {
    if (hit.start >= held) break;
    if (hit.start < pos) continue; // overlaps a longer or earlier match already replaced
    const p = patterns[hit.pattern]!;
    parts.push(buf.subarray(pos, hit.start), p.label);
    pos = hit.start + p.bytes.length;
    if (pos > held) held = index.heldFrom(buf, pos);
  }
  const rest = held === buf.length ? EMPTY : Buffer.from(buf.subarray(held));
  if (parts.length === 0) return { out: buf.subarray(0, held), rest };
  parts.push(buf.subarray(pos, held));
  return { out: Buffer.concat(parts), rest };
}
