// Bech32 (BIP 173), the encoding of age keys (`age1…`, `AGE-SECRET-KEY-1…`): checksum, case rules and 5-to-8-bit packing.
// Rules: decoding is as strict as typage's (@scure/base): a bad checksum, mixed case, a character outside the alphabet,
// or padding bits that are not zero are refused; only the classic bech32 checksum (not bech32m) is accepted.

const ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

/** The checksum state after `values` (BIP 173's polymod). */
function polymod(values: Iterable<number>): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i]!;
  }
  return chk;
}

/** The human-readable part as the checksum sees it: high bits of each character, a zero, low bits. */
function expandPrefix(prefix: string): number[] {
  const codes = [...prefix].map((c) => c.charCodeAt(0));
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)];
}

/** Regroups `data` from `from`-bit to `to`-bit values; without `pad`, leftover bits must be fewer than `from` and zero. */
function regroup(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = ((acc << from) | data[i]!) & 0xffffff;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >>> bits) & max);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    throw new Error("bech32: non-zero or excess padding");
  }
  return out;
}

/** Returns `bytes` encoded as bech32 under `prefix`, in lowercase. */
export function bech32Encode(prefix: string, bytes: Uint8Array): string {
  const lower = prefix.toLowerCase();
  const words = regroup(bytes, 8, 5, true);
  const chk = polymod([...expandPrefix(lower), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const sum = [0, 1, 2, 3, 4, 5].map((i) => (chk >>> (5 * (5 - i))) & 31);
  return `${lower}1${[...words, ...sum].map((w) => ALPHABET[w]).join("")}`;
}

/**
 * Decodes the bech32 string `text` (at most `limit` characters, none when false) and returns its prefix in lowercase
 * and its bytes. Throws a plain Error for anything that is not valid bech32.
 */
export function bech32Decode(text: string, limit: number | false = 90): { prefix: string; bytes: Buffer } {
  if (text.length < 8 || (limit !== false && text.length > limit)) throw new Error("bech32: bad length");
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 33 || c > 126) throw new Error("bech32: a character outside printable ASCII");
  }
  const lower = text.toLowerCase();
  if (text !== lower && text !== text.toUpperCase()) throw new Error("bech32: mixed case");
  const sep = lower.lastIndexOf("1");
  if (sep < 1 || lower.length - sep - 1 < 6) throw new Error("bech32: no separator or too short");
  const prefix = lower.slice(0, sep);
  const words = [...lower.slice(sep + 1)].map((c) => {
    const w = ALPHABET.indexOf(c);
    if (w === -1) throw new Error("bech32: a character outside the alphabet");
    return w;
  });
  if (polymod([...expandPrefix(prefix), ...words]) !== 1) throw new Error("bech32: bad checksum");
  return { prefix, bytes: Buffer.from(regroup(words.slice(0, -6), 5, 8, false)) };
}
