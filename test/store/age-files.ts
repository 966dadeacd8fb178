// Age files for the native decryption tests, made by typage (with extra stanzas of any kind beside ours, and the file
// key kept so a test can alter the header and sign it again) or by the age CLI; and the outcome of a decryption.

import { createHmac, hkdfSync } from "node:crypto";
import { Encrypter, Stanza, type Recipient } from "age-encryption";
import { SecretfileError } from "../../src/errors.js";
import { headerLength } from "../../src/store/payload.js";

/** An age file and the file key its header was made with. */
export interface MadeFile {
  file: Buffer;
  fileKey: Buffer;
}

/**
 * Returns `plaintext` encrypted by typage to `recipients` (age1… strings), with `extra` stanzas (args, body) written
 * where their position in the list says: the strings and the extras are wrapped in the order given.
 */
export async function typageFile(
  plaintext: Uint8Array,
  stanzas: (string | [string[], Uint8Array])[],
): Promise<MadeFile> {
  let fileKey: Buffer | undefined;
  const keeper: Recipient = {
    wrapFileKey(key: Uint8Array) {
      fileKey = Buffer.from(key);
      return [];
    },
  };
  const e = new Encrypter();
  e.addRecipient(keeper);
  for (const s of stanzas) e.addRecipient(typeof s === "string" ? s : { wrapFileKey: () => [new Stanza(s[0], s[1])] });
  const file = Buffer.from(await e.encrypt(plaintext));
  return { file, fileKey: fileKey! };
}

/**
 * Returns `made.file` with its header (without the MAC line) replaced by what `edit` makes of its text, and a MAC that
 * is valid for the new header: damage that only a holder of the file key could make, which must still be refused.
 */
export function resigned(made: MadeFile, edit: (header: string) => string): Buffer {
  const end = headerLength(made.file);
  const text = made.file.toString("latin1", 0, made.file.lastIndexOf("\n--- ", end) + 1);
  const header = Buffer.from(`${edit(text)}---`, "latin1");
  const key = Buffer.from(hkdfSync("sha256", made.fileKey, Buffer.alloc(0), "header", 32));
  const mac = createHmac("sha256", key).update(header).digest("base64").replace(/=+$/, "");
  return Buffer.concat([header, Buffer.from(` ${mac}\n`), made.file.subarray(end)]);
}

/** What a decryption gave: the plaintext in hex, or the error's class, exit code, message and hint. */
export type Outcome =
  { plaintext: string } | { error: string; exitCode: number; message: string; hint: string | undefined };

/** Returns the outcome of the decryption `run`. */
export async function outcome(run: () => Promise<Uint8Array>): Promise<Outcome> {
  try {
    return { plaintext: Buffer.from(await run()).toString("hex") };
  } catch (err) {
    if (!(err instanceof SecretfileError)) throw err;
    return { error: err.name, exitCode: err.exitCode, message: err.message, hint: err.hint };
  }
}
