// python-dotenv's reading of a .env file, in TypeScript: its parser (dotenv/parser.py), its `${VAR}` expansion
// (dotenv/variables.py) and `dotenv_values()`'s resolution (dotenv/main.py), as python-dotenv 0.21 (Debian 12's
// python3-dotenv) has them. Rules: every pattern is python-dotenv's own, read at the same places in the same order; only
// Python's `\s` is spelled out, since JavaScript's differs; no Python runs (the tests compare with the real one).

/** Python's `\s` on text (str.isspace): JavaScript's `\s` lacks \x1c-\x1f and \x85, and has \ufeff where Python's has not. */
const SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
/** Python's `[^\S\r\n]`: a blank that does not end a line. */
const BLANK = "\\t\\x0b\\x0c\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

// parser.py's patterns, each matched where the reader stands (Python's `regex.match(string, pos)`: a sticky pattern).
const sticky = (source: string) => new RegExp(source, "y");
const MULTILINE_WHITESPACE = sticky(`[${SPACE}]*`);
const WHITESPACE = sticky(`[${BLANK}]*`);
const EXPORT = sticky(`(?:export[${BLANK}]+)?`);
const SINGLE_QUOTED_KEY = sticky(`'([^']+)'`);
const UNQUOTED_KEY = sticky(`([^=#${SPACE}]+)`);
const EQUAL_SIGN = sticky(`(=[${BLANK}]*)`);
const SINGLE_QUOTED_VALUE = sticky(`'((?:\\\\'|[^'])*)'`);
const DOUBLE_QUOTED_VALUE = sticky(`"((?:\\\\"|[^"])*)"`);
const UNQUOTED_VALUE = sticky(`([^\\r\\n]*)`);
const COMMENT = sticky(`(?:[${BLANK}]*#[^\\r\\n]*)?`);
// Python's `$` (no MULTILINE) also matches before a last "\n"; the "\n" alternative is tried first, so it never does here.
const END_OF_LINE = sticky(`[${BLANK}]*(?:\\r\\n|\\n|\\r|$)`);
const REST_OF_LINE = sticky(`[^\\r\\n]*(?:\\r|\\n|\\r\\n)?`);
/** parse_unquoted_value's `re.sub(r"\s+#.*", "", part)`: `part` holds no line end, so `.` is any character. */
const INLINE_COMMENT = new RegExp(`[${SPACE}]+#[^]*`);
const TRAILING_SPACE = new RegExp(`[${SPACE}]+$`);
const DOUBLE_QUOTE_ESCAPES = /\\[\\'"abfnrtv]/g;
const SINGLE_QUOTE_ESCAPES = /\\[\\']/g;
/** What `codecs.decode(…, 'unicode-escape')` makes of each escape the two patterns above find. */
const UNESCAPED: Record<string, string> = {
  "\\\\": "\\",
  "\\'": "'",
  '\\"': '"',
  "\\a": "\x07",
  "\\b": "\b",
  "\\f": "\f",
  "\\n": "\n",
  "\\r": "\r",
  "\\t": "\t",
  "\\v": "\v",
};
/** variables.py's `_posix_variable`: `${NAME}` or `${NAME:-default}`. */
const POSIX_VARIABLE = /\$\{([^}:]*)(?::-([^}]*))?\}/g;

/** One variable as python-dotenv reads it. */
export interface PythonVariable {
  /** The value after expansion; null for a name without `=` (dotenv_values gives None, load_dotenv sets nothing). */
  value: string | null;
  /** The value before `${…}` expansion (null as above). */
  raw: string | null;
  /** How the value was written: `'`, `"`, or "" when unquoted (or absent). */
  quote: string;
  /** The line of the name, from 1 (of the last line that sets it). */
  line: number;
}

/** A failed match: parser.py's `Error`, after which the rest of the line is skipped. */
class NoMatch extends Error {}

/**
 * Returns the variables of `text` as python-dotenv's `dotenv_values(stream=…)` reads them, by name, in the order of their
 * first line: each value expanded with the file's earlier values over `env` (its `override=True`). Never throws.
 */
export function readPythonDotenv(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): Map<string, PythonVariable> {
  // Python reads a file in text mode: "\r\n" and "\r" arrive as "\n".
  const s = text.replace(/\r\n?/g, "\n");
  let pos = 0;
  const match = (re: RegExp): (string | undefined)[] => {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (m === null) throw new NoMatch();
    pos = re.lastIndex;
    return m.slice(1);
  };
  const lineAt = (at: number) => s.slice(0, at).split("\n").length;
  const bindings: [string, PythonVariable][] = [];
  while (pos < s.length) {
    // parse_binding
    try {
      match(MULTILINE_WHITESPACE);
      if (pos >= s.length) break;
      match(EXPORT);
      const line = lineAt(pos);
      const key = s[pos] === "#" ? undefined : match(s[pos] === "'" ? SINGLE_QUOTED_KEY : UNQUOTED_KEY)[0]!;
      match(WHITESPACE);
      let raw: string | null = null;
      let quote = "";
      if (s[pos] === "=") {
        match(EQUAL_SIGN);
        [raw, quote] = parseValue(s[pos] ?? "", match);
      }
      match(COMMENT);
      match(END_OF_LINE);
      if (key !== undefined) bindings.push([key, { value: raw, raw, quote, line }]);
    } catch (err) {
      if (!(err instanceof NoMatch)) throw err;
      match(REST_OF_LINE); // from where the match failed, as python-dotenv does: it ends at a line end or the text's
    }
  }
  return resolve(bindings, env);
}

/** parse_value: the value after `=` and how it was quoted; `next` is the character there ("" at the end). */
function parseValue(next: string, match: (re: RegExp) => (string | undefined)[]): [string, string] {
  if (next === "'") return [match(SINGLE_QUOTED_VALUE)[0]!.replace(SINGLE_QUOTE_ESCAPES, (e) => UNESCAPED[e]!), "'"];
  if (next === '"') return [match(DOUBLE_QUOTED_VALUE)[0]!.replace(DOUBLE_QUOTE_ESCAPES, (e) => UNESCAPED[e]!), '"'];
  if (next === "" || next === "\n" || next === "\r") return ["", ""];
  return [match(UNQUOTED_VALUE)[0]!.replace(INLINE_COMMENT, "").replace(TRAILING_SPACE, ""), ""];
}

/**
 * resolve_variables with override=True: each binding's value, in file order (a name set twice expands twice), has its `${NAME}` and `${NAME:-default}` replaced by
 * NAME's value among the file's earlier values, else the environment's, else the default, else "" (a name without a
 * value expands to ""; a name set to "" does not take the default).
 */
function resolve(
  bindings: [string, PythonVariable][],
  env: Readonly<Record<string, string | undefined>>,
): Map<string, PythonVariable> {
  const known = new Map<string, string | null>();
  for (const [name, value] of Object.entries(env)) if (value !== undefined) known.set(name, value);
  // A Map, like Python's dict, keeps a name at its first place and takes its last value.
  const out = new Map<string, PythonVariable>();
  for (const [name, v] of bindings) {
    if (v.raw !== null)
      v.value = v.raw.replace(POSIX_VARIABLE, (_, n: string, d: string | undefined) =>
        known.has(n) ? (known.get(n) ?? "") : (d ?? ""),
      );
    known.set(name, v.value);
    out.set(name, v);
  }
  return out;
}
