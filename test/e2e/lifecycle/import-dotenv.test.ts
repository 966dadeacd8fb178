// The .env parser that import and exec --env-file share (src/store/dotenv.ts), in process: a table of lines as
// dotenv writes them, and a round trip of random values through double quotes.

import { describe, expect, it } from "vitest";
import { UsageError } from "../../../src/errors.js";
import { parseDotenv } from "../../../src/store/dotenv.js";

const parse = (text: string) => parseDotenv(text, "app.env", "hint");

describe("parseDotenv", () => {
  it.for([
    ["KEY=value", "value"],
    ["export KEY=value", "value"],
    ["export\tKEY = value  ", "value"],
    ["KEY=value # comment", "value"],
    ["KEY=value\t# comment", "value"],
    ["KEY=abc#def", "abc#def"],
    ["KEY=a b  c", "a b  c"],
    ["KEY='single # $HOME \\n'", "single # $HOME \\n"],
    ["KEY='single' # comment", "single"],
    ['KEY="a\\nb\\tc\\rd"', "a\nb\tc\rd"],
    ['KEY="q \\" b \\\\ d \\$ e \\` f"', 'q " b \\ d $ e ` f'],
    ['KEY="unknown \\x kept"', "unknown \\x kept"],
    ['KEY="# not a comment"', "# not a comment"],
    ["KEY=", ""],
    ['KEY=""', ""],
    ["KEY=value\r", "value"],
    ["\uFEFFKEY=bom", "bom"],
    ["KEY=a=b=c", "a=b=c"],
  ])("%s gives %j", ([line, value]) => {
    expect(parse(`${line}\n`)).toEqual([{ name: "KEY", value, line: 1 }]);
  });

  it("skips blank lines and comments, and numbers lines from 1", () => {
    expect(parse("# c\n\n   \n  # indented\nA=1\n\nB=2")).toEqual([
      { name: "A", value: "1", line: 5 },
      { name: "B", value: "2", line: 7 },
    ]);
  });

  it.for([
    ["no =", "A=1\nsome words", 2, "expected VAR=value"],
    ["a dash in the name", "MY-KEY=1", 1, "expected VAR=value, with an environment-safe name"],
    ["a leading digit", "1KEY=1", 1, "expected VAR=value, with an environment-safe name"],
    ["a space in the name", "export A B=1", 1, "expected VAR=value, with an environment-safe name"],
    ["an empty name", "=value", 1, "expected VAR=value, with an environment-safe name"],
    ["a name of 129 characters", `${"K".repeat(129)}=1`, 1, "expected VAR=value, with an environment-safe name"],
    ["twice", "A=1\nA=2", 2, "A is already set on line 1"],
    ["an open quote", 'A="x', 1, 'the value of A has no closing " (values are one line)'],
    ["text after a quote", "A='x'y", 1, "the value of A has text after its closing '"],
    ["a NUL byte", "A=x\0y", 1, "the line holds a NUL byte"],
  ])("refuses %s, naming the line and never its text", ([, text, line, what]) => {
    let error: unknown;
    try {
      parse(text as string);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message.startsWith(`app.env:${line as number}: ${what as string}`)).toBe(true);
    expect((error as UsageError).hint).toBe("hint");
  });

  it("gives back any one-line-or-not value written in double quotes with its escapes (2,000 random values)", () => {
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const alphabet = ['"', "\\", "$", "`", "'", "#", " ", "\t", "\n", "\r", "=", "a", "Z", "0", "é", "🔑"];
    const escape = (v: string) => v.replace(/[\\"$`]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
    for (let i = 0; i < 2_000; i++) {
      const value = Array.from({ length: next() % 24 }, () => alphabet[next() % alphabet.length]).join("");
      expect(parse(`KEY="${escape(value)}" # comment\n`)).toEqual([{ name: "KEY", value, line: 1 }]);
    }
  });
});
