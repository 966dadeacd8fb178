// Reading .env files, for `exec --env-file` and `import`: `NAME=value` lines as dotenv writes them.
// Rules: a bad line is a usage error naming the file and line, never the line's text (it may hold a value); values
// are taken literally (no ${VAR} expansion, no multi-line values); a name set twice is an error.

import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { isValidName } from "./names.js";

/** The largest .env file read, in bytes. */
export const MAX_ENV_FILE_BYTES = 1024 * 1024;

/** One assignment of a .env file: the name, its value with quotes and escapes resolved, and its line (from 1). */
export interface DotenvLine {
  name: string;
  value: string;
  line: number;
}

/**
 * Returns the text of the .env file `file`. Throws UsageError (exit 2) when it cannot be read, is larger than
 * MAX_ENV_FILE_BYTES, or is not UTF-8 text.
 */
export function readDotenvFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : code === "EACCES" ? "permission denied" : code;
    throw new UsageError(`cannot read the env file ${file} (${why})`, { cause });
  }
  if (bytes.length > MAX_ENV_FILE_BYTES) throw new UsageError(`the env file ${file} is larger than ${MAX_ENV_FILE_BYTES} bytes`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new UsageError(`the env file ${file} is not UTF-8 text`, { cause });
  }
}

/**
 * Parses the text of a .env file; `file` names it in errors, `hint` is the hint of every error. Blank lines and
 * lines starting with '#' are skipped; `export ` before a name is allowed. Throws UsageError (exit 2) at the first
 * bad line: no '=', a name that is not environment-safe, a name set twice, a bad quoted value, a NUL byte.
 */
export function parseDotenv(text: string, file: string, hint: string): DotenvLine[] {
  const out: DotenvLine[] = [];
  const seen = new Map<string, number>();
  text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .forEach((raw, i) => {
      const line = i + 1;
      const bad = (what: string) => new UsageError(`${file}:${line}: ${what}`, { hint });
      const body = raw.replace(/\r$/, "").trim();
      if (body === "" || body.startsWith("#")) return;
      if (body.includes("\0")) throw bad("the line holds a NUL byte");
      const m = /^(?:export[ \t]+)?([^=]*?)[ \t]*=[ \t]*(.*)$/.exec(body);
      if (m === null) throw bad("expected VAR=value");
      const name = m[1]!;
      if (!isValidName(name)) {
        throw bad("expected VAR=value, with an environment-safe name (letters, digits and '_', not starting with a digit, at most 128)");
      }
      const first = seen.get(name);
      if (first !== undefined) throw bad(`${name} is already set on line ${first}`);
      seen.set(name, line);
      const value = parseValue(m[2]!);
      if (typeof value !== "string") throw bad(`the value of ${name} ${value.error}`);
      out.push({ name, value, line });
    });
  return out;
}

/**
 * Returns the value written as `text`, or what is wrong with it. Unquoted: a '#' after a space or tab starts a
 * comment, a '#' inside a word is kept, surrounding blanks are dropped. Single quotes: every character literally.
 * Double quotes: `\n`, `\t`, `\r`, `\"`, `\\`, `\$` and `` \` `` are escapes, any other backslash is kept. After a
 * closing quote only blanks and a comment may follow.
 */
function parseValue(text: string): string | { error: string } {
  const quote = text[0];
  if (quote !== "'" && quote !== '"') return text.replace(/[ \t]+#.*$/, "").trimEnd();
  let value = "";
  let i = 1;
  for (; i < text.length && text[i] !== quote; i++) {
    const c = text[i]!;
    if (quote === '"' && c === "\\" && i + 1 < text.length) {
      const next = text[++i]!;
      value += next === "n" ? "\n" : next === "t" ? "\t" : next === "r" ? "\r" : '"\\$`'.includes(next) ? next : `\\${next}`;
    } else {
      value += c;
    }
  }
  if (i >= text.length) return { error: `has no closing ${quote} (values are one line)` };
  const after = text.slice(i + 1);
  if (after.trim() !== "" && !/^[ \t]+#/.test(after)) return { error: `has text after its closing ${quote}` };
  return value;
}
