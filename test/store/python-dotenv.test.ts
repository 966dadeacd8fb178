// python-dotenv's reading in TypeScript (src/store/python-dotenv.ts) against python-dotenv itself (Debian's
// python3-dotenv, run once per batch through test/fixtures/python-dotenv-values.py): hand-written tricky cases, then
// generated files; each must give the same names, the same values and the same None for a name without "=".

import { spawnSync } from "node:child_process";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readPythonDotenv } from "../../src/store/python-dotenv.js";
import { envFiles, pythonLines } from "../helpers/dotenv.js";
import { FIXTURES } from "../helpers/personal.js";

/** The environment both readers expand `${…}` from. */
const ENV = { PATH: process.env.PATH, HOME: "/home/job", A: "from-env", EMPTY: "" };

/** Returns python-dotenv's dotenv_values() of each text, with ENV as its environment. */
function python(texts: string[]): Record<string, string | null>[] {
  const r = spawnSync("/usr/bin/python3", [path.join(FIXTURES, "python-dotenv-values.py")], {
    input: JSON.stringify(texts),
    env: ENV,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(r.status, `python3 with python3-dotenv (apt-get install -y python3-dotenv): ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as Record<string, string | null>[];
}

/** Returns readPythonDotenv's values of `text` as dotenv_values gives them. */
function ours(text: string): Record<string, string | null> {
  return Object.fromEntries([...readPythonDotenv(text, ENV)].map(([name, v]) => [name, v.value]));
}

/** Tricky lines: where python-dotenv and Node's dotenv part, and the corners of python-dotenv's own grammar. */
export const TRICKY: string[] = [
  "K=a#b\nL=a #b\nM=a\t#b\nN='a' # c\nO=\"a\"#c",
  "K=${A}\nL=${A:-d}\nM=${NOPE:-d}\nN=${NOPE}\nO=$A\nP=${EMPTY:-d}\nQ=${HOME}/x",
  "K=1\nL=${K}\nK=2\nM=${K}\nA=file\nN=${A}",
  "K\nL=${K:-d}\nM=x${K}y",
  "K='${A}'\nL=\"${A}\"\nM=${A:x}\nN=${:-d}\nO=${}\nP=${A",
  'K="a\\"b"\nL=\'a\\\'b\'\nM="\\t\\n\\r\\a\\b\\f\\v\\\\"\nN=\'\\t\\n\\\\\'\nO="\\x41\\u0041\\q"',
  "'K'=v\n'K L'=v\n\"M\"=v\n'N=v\nexport O=v\nexportP=v\nexport\tQ=v\nexport  R =  v  ",
  'K="multi\nline"\nL=\'multi\nline\'\nM=`back # tick`\nN="unclosed\nO=after',
  "K: v\nL = v\n=v\n  # comment\nM=v\nN =\nO=\nP=''\nQ=\"\"",
  'K=v\r\nL="a\r\nb"\rM=v\r',
  "K=a\u2028b\nL=a\u0085#c\nM=a\u00a0#c\nN=a\u001c\nO\u2028=v\n\u3000P=v",
  'K=é 🔑\nL="🔑\\""\n#K=commented\nM=v # c # d\nN="a" junk\nO=\'a\' junk',
  'K="a\\\\"b"\nL=\'a\\\\\'b\'\nM="\\\\"\nN="a\\"',
];

describe("python-dotenv's reading, against python-dotenv", () => {
  it("agrees on every hand-written tricky case", () => {
    const theirs = python(TRICKY);
    TRICKY.forEach((text, i) => expect(ours(text), JSON.stringify(text)).toEqual(theirs[i]));
  });

  it("agrees on 3,000 generated files", () => {
    const texts = [
      ...fc.sample(envFiles, { numRuns: 1_500, seed: 30 }),
      ...fc.sample(pythonLines, { numRuns: 1_500, seed: 31 }),
    ].map((t) => t.replace(/^\uFEFF/, "")); // the UTF-8 decoder drops a byte-order mark before either reading
    const theirs = python(texts);
    texts.forEach((text, i) => expect(ours(text), JSON.stringify(text)).toEqual(theirs[i]));
  });

  it("numbers each variable by the line of its name, blank lines and multi-line values counted", () => {
    const read = readPythonDotenv('\n\nK=1\nL="a\nb"\n  # c\n\n  M=2\nK=3\n', {});
    expect([...read].map(([n, v]) => [n, v.line])).toEqual([
      ["K", 9],
      ["L", 4],
      ["M", 8],
    ]);
  });
});
