// The two readings of a .env file: without --dialect a variable Node's dotenv and python-dotenv read differently
// refuses the file, naming the line and the variable and how they differ, never a value; with one, that reading.

import dotenv from "dotenv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { dialectOf } from "../../src/store/dotenv-dialects.js";
import { parseDotenv, readDotenv } from "../../src/store/dotenv.js";
import { readPythonDotenv } from "../../src/store/python-dotenv.js";
import { envFiles, pythonLines } from "../helpers/dotenv.js";

const ENV = { A: "from-env" };
/** The value every case hides: it must never appear in a message. */
const V = "s3cr3t";

function refusal(text: string): UsageError {
  try {
    parseDotenv(text, "app.env", "the hint", { env: ENV });
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error("not refused");
}

describe("without --dialect, a variable the two readings part on refuses the file", () => {
  it.for<[string, string, RegExp, Record<string, string>, Record<string, string>]>([
    [
      "${VAR} expanded",
      `X=1\nK=${V}\${A}`,
      /^app\.env:2: .* K .*python-dotenv expands \$\{…\}/,
      { X: "1", K: `${V}from-env` },
      { X: "1", K: `${V}\${A}` },
    ],
    ["${VAR:-default}", `K=\${NOPE:-${V}}`, /^app\.env:1: .* K .*expands/, { K: V }, { K: `\${NOPE:-${V}}` }],
    ["a # inside a word", `K=${V}#${V}`, /^app\.env:1: .* K .*at '#'/, { K: `${V}#${V}` }, { K: V }],
    [
      '\\" inside double quotes',
      `K="${V}\\"${V}"`,
      /^app\.env:1: .* K .*unescapes/,
      { K: `${V}"${V}` },
      { K: `${V}\\"${V}` },
    ],
    ["\\' inside single quotes", `K='${V}\\'${V}'`, /^app\.env:1: .* K .*/, { K: `${V}'${V}` }, { K: `${V}\\'${V}` }],
    ["a quoted name", `'K'=${V}`, /^app\.env:1: .* K .*python-dotenv sets it/, { K: V }, {}],
    ["the colon form", `K: ${V}`, /^app\.env:1: .* K .*Node's dotenv sets it/, {}, { K: V }],
    ["backticks", `K=\`${V}\``, /^app\.env:1: .* K .*backticks/, { K: `\`${V}\`` }, { K: V }],
  ])("%s", ([, text, message, python, node]) => {
    const err = refusal(text);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(V);
    expect(err.hint).toMatch(/--dialect python .*--dialect node/);
    const values = (dialect: "node" | "python") =>
      Object.fromEntries(readDotenv(text, { dialect, env: ENV }).entries.map((e) => [e.name, e.value]));
    expect(values("python")).toEqual(python);
    expect(values("node")).toEqual(node);
  });

  it("accepts a file both read the same, with the values of both", () => {
    const text = "A=1\nexport B = 'two # x'\nC=\"multi\nline\"\nD= spaced  # c\n";
    expect(parseDotenv(text, "f", "h", { env: ENV }).map((e) => [e.name, e.value, e.line])).toEqual([
      ["A", "1", 1],
      ["B", "two # x", 2],
      ["C", "multi\nline", 3],
      ["D", "spaced", 5],
    ]);
  });

  it("refuses a reserved name unless the file is the caller's own (exec --env-file)", () => {
    expect(() => parseDotenv("USERNAME=u\n", "f", "h")).toThrow(/USERNAME is a reserved name/);
    expect(parseDotenv("USERNAME=u\n", "f", "h", { reserved: "accept" })).toEqual([
      { name: "USERNAME", value: "u", line: 1 },
    ]);
  });

  it("takes --dialect node or python, and refuses another word (exit 2)", () => {
    expect(dialectOf(undefined)).toBeUndefined();
    expect(dialectOf("python")).toBe("python");
    expect(() => dialectOf("ruby")).toThrow(UsageError);
  });

  it("property: a file accepted without --dialect gives what both readers give, for 3,000 generated files", () => {
    fc.assert(
      fc.property(fc.oneof(envFiles, pythonLines), (raw) => {
        const text = raw.replace(/^\uFEFF/, "");
        const { entries, refused } = readDotenv(text, { env: ENV });
        if (refused.length > 0) return;
        const node = dotenv.parse(text);
        const python = readPythonDotenv(text, ENV);
        for (const e of entries) {
          expect(e.value).toBe(node[e.name]);
          expect(e.value).toBe(python.get(e.name)?.value);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});
