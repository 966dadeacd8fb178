// The header of an age v1 file (age-encryption.org/v1): the version line, the recipient stanzas and the MAC line, read
// and written. Rules: as strict as typage and age: printable ASCII lines ending in '\n', stanza bodies in canonical
// unpadded base64 wrapped at 64 columns and ended by a shorter (possibly empty) line, a MAC of 32 bytes; anything else
// throws.

export const VERSION = "age-encryption.org/v1";
const BODY_LINE_BYTES = 48; // 64 base64 columns
const MAC_BYTES = 32;

/** One recipient stanza: its arguments after `->` (the first is its type) and its decoded body. */
export interface Stanza {
  args: string[];
  body: Buffer;
}

/** A parsed header: its stanzas, the bytes its MAC covers (through `---`), the MAC, and the header's length in bytes. */
export interface AgeHeader {
  stanzas: Stanza[];
  macInput: Buffer;
  mac: Buffer;
  length: number;
}

/** Returns the bytes of canonical unpadded base64 `text` (the form age writes); throws for any other text. */
export function decodeBase64(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) throw new Error("age header: not base64");
  const bytes = Buffer.from(text, "base64");
  // Re-encoding catches bits set in the padding, which Node's decoder ignores but age refuses.
  if (encodeBase64(bytes) !== text) throw new Error("age header: non-canonical base64");
  return bytes;
}

/** Returns `bytes` in canonical unpadded base64, the form age writes. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64").replace(/=+$/, "");
}

/** Returns the text of one stanza: `-> ARGS`, then its body in lines of 64 columns ended by a shorter one. */
export function encodeStanza(stanza: Stanza): string {
  const lines = [`-> ${stanza.args.join(" ")}`];
  for (let at = 0; ; at += BODY_LINE_BYTES) {
    lines.push(encodeBase64(stanza.body.subarray(at, at + BODY_LINE_BYTES)));
    if (stanza.body.length - at < BODY_LINE_BYTES) return `${lines.join("\n")}\n`;
  }
}

/** Reads the '\n'-ended lines of a header, each checked to be printable ASCII. */
class Lines {
  offset = 0;
  private readonly bytes: Buffer;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  /** Returns the next line without its '\n' and the offset where it started; throws at the end of the bytes. */
  next(): { line: string; start: number } {
    const start = this.offset;
    const end = this.bytes.indexOf(0x0a, start);
    if (end === -1) throw new Error("age header: truncated");
    for (let i = start; i < end; i++) {
      const b = this.bytes[i]!;
      if (b < 32 || b > 126) throw new Error("age header: a byte outside printable ASCII");
    }
    this.offset = end + 1;
    return { line: this.bytes.toString("latin1", start, end), start };
  }
}

/** Returns the body lines of a stanza decoded and joined: full 64-column lines, then one shorter line. */
function readBody(lines: Lines): Buffer {
  const parts: Buffer[] = [];
  for (;;) {
    const { line } = lines.next();
    const part = decodeBase64(line);
    if (part.length > BODY_LINE_BYTES) throw new Error("age header: a stanza line longer than 64 columns");
    parts.push(part);
    if (part.length < BODY_LINE_BYTES) return Buffer.concat(parts);
  }
}

/**
 * Parses the header at the start of the age file `file`. Throws a plain Error for anything that is not a well-formed
 * age v1 header; checks syntax only (the MAC is the caller's to verify, with the file key).
 */
export function parseHeader(file: Uint8Array): AgeHeader {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const lines = new Lines(bytes);
  if (lines.next().line !== VERSION) throw new Error("age header: not an age-encryption.org/v1 file");
  const stanzas: Stanza[] = [];
  for (;;) {
    const { line, start } = lines.next();
    if (line.startsWith("-> ")) {
      const args = line.slice(3).split(" ");
      if (args.some((a) => a === "")) throw new Error("age header: an empty stanza argument");
      stanzas.push({ args, body: readBody(lines) });
      continue;
    }
    if (!line.startsWith("--- ")) throw new Error("age header: neither a stanza nor the MAC line");
    const mac = decodeBase64(line.slice(4));
    if (mac.length !== MAC_BYTES) throw new Error("age header: a MAC of the wrong length");
    return { stanzas, macInput: bytes.subarray(0, start + 3), mac, length: lines.offset };
  }
}
