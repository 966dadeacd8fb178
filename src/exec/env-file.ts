// Reading a job's .env file for `exec --env-file`: `VAR=value` lines as a .env has them, and `VAR=secretfile:NAME`
// lines that take NAME from the store. Rules: a bad line is a usage error naming the file and line, never the line's
// text (it may hold a value); values are taken literally (no ${VAR} expansion, no multi-line values); a variable
// set twice is an error.

import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { isValidName } from "../store/names.js";

/** The prefix that makes a value a reference to a secret: `API_KEY=secretfile:MERAKI_API_KEY`. */
export const REFERENCE_PREFIX = "secretfile:";
/** The largest env file read, in bytes. */
export const MAX_ENV_FILE_BYTES = 1024 * 1024;

/** One assignment of an env file: a plain value, or the value of a secret. */
export type EnvEntry = { variable: string; line: number } & ({ kind: "plain"; value: string } | { kind: "secret"; secret: string });

const HINT = "lines are VAR=value or VAR=secretfile:NAME, with an optional `export `; '#' starts a comment";

/**
 * Reads and parses the env file `file`. Throws UsageError (exit 2) when it cannot be read, is not UTF-8 text,
 * or has a bad line (the message names `file` and the line number).
 */
export function readEnvFile(file: string): EnvEntry[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : code === "EACCES" ? "permission denied" : code;
    throw new UsageError(`cannot read the env file ${file} (${why})`, { cause });
  }
  if (bytes.length > MAX_ENV_FILE_BYTES) throw new UsageError(`the env file ${file} is larger than ${MAX_ENV_FILE_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new UsageError(`the env file ${file} is not UTF-8 text`, { cause });
  }
  return parseEnvFile(text, file);
}

/** Parses the text of an env file; `file` names it in errors. Throws UsageError (exit 2) at the first bad line. */
export function parseEnvFile(text: string, file: string): EnvEntry[] {
  const entries: EnvEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  lines.forEach((raw, i) => {
    const line = i + 1;
    const bad = (what: string) => new UsageError(`${file}:${line}: ${what}`, { hint: HINT });
    const body = raw.replace(/\r$/, "").trim();
    if (body === "" || body.startsWith("#")) return;
    if (body.includes("\0")) throw bad("the line holds a NUL byte");
    const m = /^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)$/.exec(body);
    if (m === null) throw bad("expected VAR=value");
    const variable = m[1]!;
    if (!isValidName(variable)) throw bad(`the variable name is longer than 128 characters`);
    const first = seen.get(variable);
    if (first !== undefined) throw bad(`${variable} is already set on line ${first}`);
    seen.set(variable, line);
    const value = parseValue(m[2]!);
    if (typeof value !== "string") throw bad(`the value of ${variable} ${value.error}`);
    if (!value.startsWith(REFERENCE_PREFIX)) {
      entries.push({ variable, line, kind: "plain", value });
      return;
    }
    const secret = value.slice(REFERENCE_PREFIX.length);
    if (!isValidName(secret)) throw bad(`${variable} refers to an invalid secret name after "${REFERENCE_PREFIX}"`);
    entries.push({ variable, line, kind: "secret", secret });
  });
  return entries;
}

/** Returns the value written as `text` (quotes removed, escapes and a trailing comment handled), or what is wrong with it. */
function parseValue(text: string): string | { error: string } {
  const quote = text[0];
  if (quote !== "'" && quote !== '"') {
    // Unquoted: a '#' after a space or tab starts a comment; a '#' inside a word is kept.
    return text.replace(/[ \t]+#.*$/, "").trimEnd();
  }
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
