// What the .env tests share: dotenv's own test files, and a fast-check generator of .env files.

import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { FIXTURES } from "./personal.js";

/** dotenv's own test files (test/fixtures/dotenv/README.md), by name, with their text. */
export const DOTENV_TESTS = [".env", ".env-multiline", ".env.bom"].map((name) => ({
  name,
  text: readFileSync(path.join(FIXTURES, "dotenv", name), "utf8"),
}));

/** Pieces of generated .env files: every quoting kind, escapes, comments, blanks, line ends, a BOM, NUL. */
const PIECES = [
  "'",
  '"',
  "`",
  "#",
  " #",
  "\\",
  "\\n",
  "\\r",
  "\\\\",
  " ",
  "\t",
  "\r",
  "\n",
  "\r\n",
  "=",
  ":",
  "a",
  "Z9",
  "é",
  "🔑",
  "\0",
  "$HOME",
  "${A}",
  "export ",
  "\uFEFF",
];
const NAMES = [
  "A",
  "B_2",
  "_x",
  "KEY",
  "export",
  "PATH",
  "LD_PRELOAD",
  "USERNAME",
  "my.key",
  "MY-KEY",
  "1A",
  "__proto__",
  "constructor",
];
const line = fc
  .record({
    lead: fc.constantFrom("", " ", "\t", "export ", "export\t "),
    name: fc.oneof(fc.constantFrom(...NAMES), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/)),
    sep: fc.constantFrom("=", " = ", "= ", ": ", ":", " "),
    value: fc.array(fc.constantFrom(...PIECES), { maxLength: 10 }).map((p) => p.join("")),
  })
  .map((l) => `${l.lead}${l.name}${l.sep}${l.value}`);
/** Generated .env files, from a grammar of lines and pieces. */
export const envFiles = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.oneof(line, line, fc.constantFrom("", "# comment", "words without equals", '"')), { maxLength: 8 }),
    fc.constantFrom("\n", "\r\n"),
  )
  .map(([bom, lines, end]) => `${bom ? "\uFEFF" : ""}${lines.join(end)}${end}`);

/** Pieces where python-dotenv differs from Node's dotenv: expansion, its escapes, quoted names, its blanks. */
const PYTHON_PIECES = [
  "${A}",
  "${A:-d}",
  "${NOPE:-x y}",
  "${K}",
  "${",
  "}",
  ":-",
  '\\"',
  "\\'",
  "\\t",
  "'",
  '"',
  "#",
  " #",
  " ",
  "\u2028",
  "\u0085",
  "\u00a0",
  "a",
  "\n",
];
const pythonLine = fc
  .record({
    lead: fc.constantFrom("", " ", "export ", "'", '"'),
    name: fc.constantFrom("A", "K", "L", "K'", 'K"', "K L", "#K"),
    sep: fc.constantFrom("=", " = ", "='", '="', "=`", ": ", ""),
    value: fc.array(fc.constantFrom(...PYTHON_PIECES), { maxLength: 8 }).map((p) => p.join("")),
  })
  .map((l) => `${l.lead}${l.name}${l.sep}${l.value}`);
/** Generated .env files of lines where python-dotenv's reading has its corners. */
export const pythonLines = fc
  .tuple(
    fc.array(fc.oneof(pythonLine, pythonLine, fc.constantFrom("", "# c", "K")), { maxLength: 8 }),
    fc.constantFrom("\n", "\r\n"),
  )
  .map(([lines, end]) => `${lines.join(end)}${end}`);
