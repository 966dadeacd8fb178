// .env files as secretfile reads them (src/store/dotenv.ts), in process, with dotenv 17 itself as the reference: its own
// test files, a table of lines, the lines a refusal names, and a property: for generated files, whatever dotenv reads,
// secretfile reads the same or refuses the file.

import dotenv from "dotenv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseDotenv, readDotenv } from "../../src/store/dotenv.js";
import { DOTENV_TESTS, envFiles } from "../helpers/dotenv.js";

/** These tests read as Node's dotenv reads: the dialect that was secretfile's only one (python-dotenv.test.ts has the other). */
const NODE = { dialect: "node" } as const;

const valuesOf = (text: string) => Object.fromEntries(readDotenv(text, NODE).entries.map((e) => [e.name, e.value]));

/** Returns the UsageError `run` throws. */
function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error("no error was thrown");
}

describe("dotenv's own test files", () => {
  it.for(DOTENV_TESTS)(
    "$name: every value as dotenv reads it; only the reserved USERNAME is refused, naming its line",
    ({ text }) => {
      const theirs = dotenv.parse(text);
      const { entries, refused } = readDotenv(text, NODE);
      const usernameLine = text.split("\n").findIndex((l) => l.startsWith("USERNAME=")) + 1;
      expect(refused).toEqual(
        usernameLine === 0 ? [] : [{ line: usernameLine, why: expect.stringMatching(/^USERNAME is a reserved name/) }],
      );
      const { USERNAME: _reserved, ...rest } = theirs;
      expect(valuesOf(text)).toEqual(rest);
      expect(entries.length + refused.length).toBe(Object.keys(theirs).length);
      for (const e of entries)
        expect(text.replace(/\r\n?/g, "\n").split("\n")[e.line! - 1]).toMatch(
          new RegExp(`^\\s*(export\\s+)?${e.name}\\s*=`),
        );
    },
  );

  it("reads what issue 17 found wrong: backticks, `a#number`, multi-line values (the reference is not circular)", () => {
    const main = valuesOf(DOTENV_TESTS[0]!.text);
    expect(Object.keys(main)).toHaveLength(39); // and USERNAME, refused: the file's 40 values
    expect(main.BACKTICKS).toBe("backticks");
    expect(main.BACKTICKS_SPACED).toBe("    backticks    ");
    expect(main.INLINE_COMMENTS_SPACE).toBe("inline comments start with a");
    expect(main.INLINE_COMMENTS_BACKTICKS).toBe("inline comments outside of #backticks");
    expect(main.EXPAND_NEWLINES).toBe("expand\nnew\nlines");
    expect(main.DONT_EXPAND_SQUOTED).toBe("dontexpand\\nnewlines");
    const multi = valuesOf(DOTENV_TESTS[1]!.text);
    expect(multi.MULTI_BACKTICKED).toBe(`THIS\nIS\nA\n"MULTILINE'S"\nSTRING`);
    expect(multi.MULTI_PEM_DOUBLE_QUOTED?.split("\n")).toHaveLength(7);
    expect(valuesOf(DOTENV_TESTS[2]!.text)).toEqual({ BASIC: "basic", SECOND: "two" });
  });
});

describe("readDotenv against dotenv", () => {
  it.for<[string, string, string]>([
    ["unquoted", "K=plain value", "plain value"],
    ["spacing", "   K   =   spaced out   ", "spaced out"],
    ["export", "export K=exported", "exported"],
    ["export and spacing", "export \t K  =x", "x"],
    ["a colon", "K: yaml style", "yaml style"],
    ["single quotes, literal", "K='single # $HOME \\n'", "single # $HOME \\n"],
    ["double quotes: \\n and \\r expanded, the rest kept", 'K="a\\nb\\rc\\td \\" e"', 'a\nb\rc\\td \\" e'],
    ["backticks", "K=`back 'tick' \"q\"`", `back 'tick' "q"`],
    ["an inline comment", "K=value # comment", "value"],
    ["a # inside a word", "K=a#number", "a"],
    ["a comment after quotes", 'K="x # y" # comment', "x # y"],
    ["a byte-order mark", "\uFEFFK=bom", "bom"],
    ["CRLF", "K=crlf\r\nL=1\r\n", "crlf"],
    ["CRLF inside quotes", 'K="one\r\ntwo"\r\n', "one\ntwo"],
    ["the last of two lines", "K=first\nK=second", "second"],
    ["equals signs", "K=a=b==", "a=b=="],
    ["an empty value", "K=", ""],
  ])("%s", ([, text, value]) => {
    expect(dotenv.parse(text).K).toBe(value);
    expect(valuesOf(text).K).toBe(value);
  });

  it("numbers each variable by the last line that sets it, multi-line values counted", () => {
    const { entries } = readDotenv('# c\nA="one\ntwo\nthree"\n\nexport B = 2\nA=again\nC=`x\ny`\n', NODE);
    expect(entries).toEqual([
      { name: "B", value: "2", line: 6 },
      { name: "A", value: "again", line: 7 },
      { name: "C", value: "x\ny", line: 8 },
    ]);
  });
});

describe("what secretfile refuses where dotenv reads", () => {
  it.for([
    ["a dot in the name", "A=1\nmy.key=value-0xdeadbeef\n", 2, "the name is not environment-safe"],
    ["a dash in the name", "MY-KEY=value-0xdeadbeef", 1, "the name is not environment-safe"],
    ["a leading digit", "\n\n1KEY=value-0xdeadbeef", 3, "the name is not environment-safe"],
    ["a name of 129 characters", `${"K".repeat(129)}=value-0xdeadbeef`, 1, "the name is not environment-safe"],
    ["a reserved name", "LD_PRELOAD=/tmp/value-0xdeadbeef.so", 1, "LD_PRELOAD is a reserved name"],
    ["a reserved name, any case", "A=1\nexport path=/value-0xdeadbeef", 2, "path is a reserved name"],
    [
      "a value over 64 KiB",
      `BIG="${"x".repeat(65 * 1024)}"`,
      1,
      "the value of BIG is 66560 bytes, more than the 65536 allowed",
    ],
    ["a NUL byte", "A='value\0-0xdeadbeef'", 1, "the value of A holds a NUL byte"],
  ])(
    "%s: the whole file, naming the line, never the value (nor the name when it is not environment-safe)",
    ([, text, line, what]) => {
      const err = usageError(() => parseDotenv(text as string, "app.env", "the hint", NODE));
      expect(err.message.startsWith(`app.env:${line as number}: ${what as string}`), err.message).toBe(true);
      expect(err.message).not.toContain("0xdeadbeef");
      expect(err.message).not.toMatch(/my\.key|MY-KEY|1KEY|KKKK/);
      expect(err.hint).toBe("the hint");
    },
  );

  it("a stretch of more than 100 blank lines, on which dotenv's parse takes quadratic time, is refused before parsing", () => {
    const slow = `# a comment\n${"\t \r\n".repeat(20_000)}# a comment\nA=1\n`; // dotenv itself: 5 s measured
    expect(readDotenv(slow, NODE)).toEqual({
      entries: [],
      refused: [{ line: 1, why: expect.stringMatching(/^more than 100 blank lines in a row/) }],
    });
    expect(readDotenv(`A=1\n${"\u2028".repeat(200)}#`, NODE).refused).toHaveLength(1); // a line end to the pattern's ^
    const fine = `A=1\n${"\n".repeat(99)}# a comment\nB=2\n`; // 100 line ends in a row
    expect(readDotenv(fine, NODE)).toEqual({
      entries: [
        { name: "A", value: "1", line: 1 },
        { name: "B", value: "2", line: 102 },
      ],
      refused: [],
    });
  });

  it("names the first refused line and counts the others; readDotenv lists each", () => {
    const text = "OK=1\nPATH=/x\nA-B=2\nHOME=/y\n";
    expect(usageError(() => parseDotenv(text, "app.env", "h", NODE)).message).toMatch(
      /^app\.env:2: PATH is a reserved name .* \(2 more lines are refused\)$/,
    );
    expect(readDotenv(text, NODE).refused.map((r) => r.line)).toEqual([2, 3, 4]);
    expect(readDotenv(text, NODE).entries).toEqual([{ name: "OK", value: "1", line: 1 }]);
  });
});

describe("property: whatever dotenv reads, secretfile reads the same or refuses the file", () => {
  it("holds for 3,000 generated files", () => {
    fc.assert(
      fc.property(envFiles, (text) => {
        const theirs = dotenv.parse(text);
        const { entries, refused } = readDotenv(text, NODE);
        for (const e of entries) expect(e.value).toBe(theirs[e.name]);
        expect(entries.length + refused.length).toBe(Object.keys(theirs).length);
        if (refused.length === 0)
          expect(parseDotenv(text, "f", "h", NODE).map((e) => [e.name, e.value])).toEqual(
            expect.arrayContaining(Object.entries(theirs)),
          );
        else expect(() => parseDotenv(text, "f", "h", NODE)).toThrow(UsageError);
      }),
      { numRuns: 3_000 },
    );
  });
});
