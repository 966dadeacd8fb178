// Reading .env files, for `exec --env-file` and `import`: exactly as dotenv 17 reads them (its own `parse`) or as
// python-dotenv does (python-dotenv.ts), with our rules on top. Rules: a value is never changed; without a dialect picked,
// a variable the two read differently, a name that is not environment-safe or is reserved (unless the caller's own file
// accepts it), a value over 64 KiB or holding a NUL, a long stretch of blank lines, refuses the whole file (exit 2),
// naming the line, never a value.

import dotenv from "dotenv";
import { UsageError } from "../errors.js";
import { partings, type Dialect } from "./dotenv-dialects.js";
import { readPythonDotenv } from "./python-dotenv.js";
import { isValidName, MAX_NAME_LENGTH, MAX_VALUE_BYTES } from "./names.js";
import { checkWritableName } from "./reserved-names.js";
import { readNamedFile } from "../system/named-file.js";

/** The largest .env file read, in bytes. */
export const MAX_ENV_FILE_BYTES = 1024 * 1024;

/**
 * The most line ends one stretch of blanks may hold: dotenv 17's `parse` takes time quadratic in such a stretch (2 s for
 * 20,000 empty lines before a comment, measured), so a file with a longer one is refused before it is parsed.
 */
export const MAX_BLANK_LINES = 100;

/** One variable of a .env file as dotenv reads it: its name, its value, and the line that sets it (from 1) if found. */
export interface DotenvLine {
  name: string;
  value: string;
  line: number | undefined;
}

/** A variable dotenv reads that secretfile refuses: the line that sets it (if found), and why, never its value. */
export interface DotenvRefusal {
  line: number | undefined;
  why: string;
  /** What to do, where it is not the caller's own hint. */
  hint?: string;
}

/** A .env file as secretfile reads it: what dotenv reads and secretfile accepts, and what it refuses. */
export interface DotenvRead {
  entries: DotenvLine[];
  refused: DotenvRefusal[];
}

/** How a file is read. */
export interface DotenvOptions {
  /** The reading picked (--dialect); without one, both, and a variable they read differently refuses the file. */
  dialect?: Dialect;
  /** The environment python-dotenv expands `${VAR}` from (the caller's own); none when not given. */
  env?: Readonly<Record<string, string | undefined>>;
  /** `accept` for the caller's own file given to their own job (exec --env-file); `refuse` (the default) otherwise. */
  reserved?: "accept" | "refuse";
}

/**
 * Returns the text of the .env file `file`. Throws AccessError (exit 4) when it is a symlink, UsageError (exit 2) when it
 * cannot be read, is not a regular file (a FIFO is refused, never waited on), is larger than MAX_ENV_FILE_BYTES, or is
 * not UTF-8 text.
 */
export function readDotenvFile(file: string): string {
  return readNamedFile(file, "env file", MAX_ENV_FILE_BYTES);
}

/**
 * Reads the text of a .env file as the dialect reads it, or as both when none is given (the last of a name's lines
 * wins, lines a reader cannot read are skipped, as each does), and sorts each variable into accepted or refused, in
 * line order. Never throws.
 */
export function readDotenv(text: string, options: DotenvOptions = {}): DotenvRead {
  const normal = text.replace(/\r\n?/g, "\n"); // dotenv's own line ends
  const lines = normal.split("\n");
  const entries: DotenvLine[] = [];
  const refused: DotenvRefusal[] = [];
  const blanks = longBlankStretch(normal);
  if (blanks !== undefined)
    return {
      entries,
      refused: [
        {
          line: blanks,
          why: `more than ${MAX_BLANK_LINES} blank lines in a row (dotenv is too slow on them): remove them`,
        },
      ],
    };
  const { dialect, env = {}, reserved = "refuse" } = options;
  const nodeLine = (name: string) => lineOf(lines, name);
  const node = dialect === "python" ? undefined : dotenv.parse(text);
  const python = dialect === "node" ? undefined : readPythonDotenv(text, env);
  if (node !== undefined && python !== undefined) refused.push(...partings(node, python, nodeLine));
  const read: DotenvLine[] =
    python === undefined
      ? Object.entries(node!).map(([name, value]) => ({ name, value, line: nodeLine(name) }))
      : [...python].flatMap(([name, v]) => (v.value === null ? [] : [{ name, value: v.value, line: v.line }]));
  for (const { name, value, line } of read) {
    const why = refusal(name, value, reserved === "refuse");
    if (why === undefined) entries.push({ name, value, line });
    else refused.push({ line, why });
  }
  const order = (a: { line: number | undefined }, b: { line: number | undefined }) =>
    (a.line ?? Infinity) - (b.line ?? Infinity);
  return { entries: entries.sort(order), refused: refused.sort(order) };
}

/**
 * Returns the variables of a .env file's text as `readDotenv` reads them; `file` names it in errors, `hint` is the
 * hint of an error when a variable is refused. Throws UsageError (exit 2) naming the first refused line.
 */
export function parseDotenv(text: string, file: string, hint: string, options: DotenvOptions = {}): DotenvLine[] {
  const { entries, refused } = readDotenv(text, options);
  const first = refused[0];
  if (first === undefined) return entries;
  const more =
    refused.length > 1 ? ` (${refused.length - 1} more ${refused.length === 2 ? "line is" : "lines are"} refused)` : "";
  throw new UsageError(`${at(file, first.line)}: ${first.why}${more}`, { hint: first.hint ?? hint });
}

/** Returns `file:line`, or `file` alone when the line is not known. */
export function at(file: string, line: number | undefined): string {
  return line === undefined ? file : `${file}:${line}`;
}

/** Returns why secretfile refuses `name=value` where dotenv reads it (a reserved name when `reserve`), or undefined. */
function refusal(name: string, value: string, reserve: boolean): string | undefined {
  if (!isValidName(name)) {
    return `the name is not environment-safe (letters, digits and '_', not starting with a digit, at most ${MAX_NAME_LENGTH})`;
  }
  try {
    if (reserve) checkWritableName(name);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_VALUE_BYTES)
    return `the value of ${name} is ${bytes} bytes, more than the ${MAX_VALUE_BYTES} allowed`;
  if (value.includes("\0")) return `the value of ${name} holds a NUL byte`;
  return undefined;
}

/**
 * Returns the line where a stretch of blanks holding more than MAX_BLANK_LINES line ends starts in `normal` (the text
 * with dotenv's line ends), or undefined. Line ends as dotenv's pattern sees them (`^` of a JavaScript multiline
 * pattern: \n, \r, U+2028, U+2029).
 */
function longBlankStretch(normal: string): number | undefined {
  for (const m of normal.matchAll(/\s+/g)) {
    if ((m[0].match(/[\n\r\u2028\u2029]/g)?.length ?? 0) > MAX_BLANK_LINES)
      return normal.slice(0, m.index).split("\n").length;
  }
  return undefined;
}

/**
 * Returns the number of the last line that starts setting `name` (`NAME=`, `export NAME =`, `NAME: `), or undefined.
 * Only for messages: dotenv tells values, not lines, and its value parsing is not repeated here.
 */
function lineOf(lines: string[], name: string): number | undefined {
  const start = new RegExp(`^\\s*(?:export\\s+)?${name.replace(/[.-]/g, "\\$&")}(?:\\s*=|:(?:\\s|$))`);
  for (let i = lines.length - 1; i >= 0; i--) if (start.test(lines[i]!)) return i + 1;
  return undefined;
}
