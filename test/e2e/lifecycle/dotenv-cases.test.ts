// .env files end to end through bin/secretfile (personal mode, a temporary folder each), dotenv 17 as the reference:
// each case is imported then read back with `get`, and given to a job with `exec --env-file`; dotenv's own test files
// the same way; what secretfile refuses stops import and exec naming the line, never a value; a generated file is
// read as dotenv reads it or refused whole.

import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import dotenv from "dotenv";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { holdsPiece, removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";
import { readDotenv } from "../../../src/store/dotenv.js";
import { DOTENV_TESTS, envFiles } from "../../helpers/dotenv.js";
import { execOwnExit } from "../../../src/errors.js";
import { ownExit } from "../../helpers/cli.js";

afterAll(removeSandboxes);

const SLOW = 240_000;
/** A job that prints the variables named in argv as JSON, values included (null when unset). */
const PRINT = [
  "-e",
  "console.log(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((n) => [n, process.env[n] ?? null]))))",
];

const PEM = generateKeyPairSync("ec", { namedCurve: "P-256" })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString()
  .trimEnd();
const JSON_BLOB = JSON.stringify(
  {
    type: "service_account",
    project_id: "demo-0xfeed",
    private_key: "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n",
  },
  null,
  2,
);

function envFile(sb: Sandbox, text: string | Buffer, name = "app.env"): string {
  const file = path.join(sb.root, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** Runs the job of `exec --env-file FILE` (no masking) and returns the variables `names` it got. */
async function execGets(sb: Sandbox, args: string[], names: string[]): Promise<Record<string, string | null>> {
  const r = await sb.run(["exec", "--no-mask", ...args, "--", process.execPath, ...PRINT, ...names]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, string | null>;
}

const CASES: [string, string, Record<string, string>][] = [
  ["unquoted", "K=plain value\n", { K: "plain value" }],
  ["spacing", "   K   =   spaced out   \n", { K: "spaced out" }],
  ["export, with spacing", "export K=exported\nexport \t L  =x\n", { K: "exported", L: "x" }],
  ["a colon", "K: yaml style\n", { K: "yaml style" }],
  ["single quotes, literal", "K='single # $HOME \\n \"q\"'\n", { K: 'single # $HOME \\n "q"' }],
  ["double quotes and their escapes", 'K="a\\nb\\rc\\td \\" $HOME"\n', { K: 'a\nb\rc\\td \\" $HOME' }],
  ["backticks", "K=`back 'tick' \"q\" #x`\n", { K: `back 'tick' "q" #x` }],
  ["inline comments", "K=value # comment\nL='x # y' # comment\n", { K: "value", L: "x # y" }],
  ["a # inside a word", "K=a#number\n", { K: "a" }],
  ["a byte-order mark", "\uFEFFK=bom\n", { K: "bom" }],
  ["CRLF line ends", 'K=crlf\r\nL="one\r\ntwo"\r\n', { K: "crlf", L: "one\ntwo" }],
  ["the last of two lines", "K=first\nK=second\n", { K: "second" }],
  ["UTF-8 text", "K=clé 🔑 ok\n", { K: "clé 🔑 ok" }],
  ["a PEM key, double-quoted over several lines", `K="${PEM}"\n`, { K: PEM }],
  ["a JSON blob, single-quoted over several lines", `K='${JSON_BLOB}'\n`, { K: JSON_BLOB }],
  ["a multi-line value in backticks", 'K=`it\'s\n  "multi"\nline`\n', { K: `it's\n  "multi"\nline` }],
];

describe.concurrent(
  "a .env file, as dotenv reads it, through import then get, and exec --env-file",
  { timeout: SLOW },
  () => {
    it.for(CASES)("%s", async ([, text, expected]) => {
      expect(dotenv.parse(text)).toEqual(expected); // the reference
      const sb = sandbox();
      const file = envFile(sb, text);
      const imported = await sb.run(["import", "--dialect", "node", file]);
      expect(imported.code, imported.stderr).toBe(0);
      for (const v of Object.values(expected).filter((v) => v.length >= 10))
        expect(holdsPiece(imported.stderr, v)).toBe(false);
      for (const [name, value] of Object.entries(expected)) {
        const got = await sb.run(["get", name]);
        expect(got).toMatchObject({ code: 0, stdout: value });
      }
      expect(await execGets(sb, ["--dialect", "node", "--env-file", file], Object.keys(expected))).toEqual(expected);
    });

    it.for(DOTENV_TESTS.slice(0, 2))(
      "dotenv's tests/$name: exec --env-file gives every value, its reserved USERNAME too; import refuses that line",
      async ({ name, text }) => {
        const sb = sandbox();
        const line = text.split("\n").findIndex((l) => l.startsWith("USERNAME=")) + 1;
        const full = envFile(sb, text, `full${name}`);
        const all = dotenv.parse(text);
        expect(await execGets(sb, ["--dialect", "node", "--env-file", full], Object.keys(all))).toEqual(all);
        const r = await sb.run(["import", "--dialect", "node", full]);
        expect(r).toMatchObject({ code: 2, stdout: "" });
        expect(r.stderr).toMatch(new RegExp(`^secretfile: error: ${full}:${line}: USERNAME is a reserved name`));
        expect(r.stderr).not.toContain("therealnerdybeast");
        const theirs = dotenv.parse(text.replace(/^USERNAME=.*\n/m, ""));
        const file = envFile(sb, text.replace(/^USERNAME=.*\n/m, ""), `app${name}`);
        const imported = await sb.run(["import", "--dialect", "node", file]);
        expect(imported.code, imported.stderr).toBe(0);
        const stored = Object.fromEntries(Object.entries(theirs).filter(([, v]) => v !== ""));
        expect(imported.stderr).toContain(
          `${Object.keys(stored).length} added, 0 replaced, ${Object.keys(theirs).length - Object.keys(stored).length} skipped`,
        );
        expect(await execGets(sb, [], Object.keys(stored))).toEqual(stored); // every stored value, as dotenv read it
        for (const key of Object.keys(stored).filter((k) => k.startsWith("MULTI_") || k === "EXPAND_NEWLINES")) {
          expect(await sb.run(["get", key])).toMatchObject({ code: 0, stdout: stored[key] });
        }
      },
    );
  },
);

describe.concurrent(
  "where secretfile differs from dotenv, it refuses the whole file (exit 2) naming the line",
  { timeout: SLOW },
  () => {
    it.for([
      [
        "a name that is not environment-safe",
        "A_KEY=1\nmy.key=value-0xdeadbeef\n",
        2,
        "the name is not environment-safe",
      ],
      [
        "a reserved name",
        "A_KEY=1\n\nexport LD_PRELOAD=/tmp/value-0xdeadbeef.so\n",
        3,
        "LD_PRELOAD is a reserved name",
      ],
      [
        "a value over 64 KiB",
        `A_KEY=1\nBIG="${"x".repeat(65 * 1024)}-0xdeadbeef"\n`,
        2,
        "the value of BIG is 66571 bytes, more than the 65536 allowed",
      ],
      ["a NUL byte", "A_KEY='value\0-0xdeadbeef'\n", 1, "the value of A_KEY holds a NUL byte"],
    ])("%s: import writes nothing, exec runs nothing, and neither shows the value", async ([, text, line, what]) => {
      const sb = sandbox();
      await sb.add("EXISTING", "kept");
      const before = readFileSync(sb.store);
      const file = envFile(sb, text as string);
      const marker = path.join(sb.root, "ran");
      // A reserved name is refused by import only: exec --env-file reads the caller's own file for their own job.
      for (const args of [
        ["import", file],
        ...((what as string).includes("reserved") ? [] : [["exec", "--env-file", file, "--", "touch", marker]]),
      ]) {
        const r = await sb.run(args);
        expect(r).toMatchObject({ code: ownExit(args, 2), stdout: "" });
        expect(
          r.stderr.split("\n")[0]!.startsWith(`secretfile: error: ${file}:${line as number}: ${what as string}`),
          r.stderr,
        ).toBe(true);
        expect(r.stderr).toMatch(/\nsecretfile: hint: change or remove that line/);
        expect(r.stderr).not.toContain("0xdeadbeef");
      }
      expect(readFileSync(sb.store).equals(before)).toBe(true);
      expect(() => readFileSync(marker)).toThrow();
    });

    it("import --dry-run lists what it would add, replace, skip and refuse, by line, never a value, and writes nothing", async () => {
      const sb = sandbox();
      await sb.add("OLD_KEY", "old-value-0xdeadbeef");
      const before = readFileSync(sb.store);
      const file = envFile(
        sb,
        "NEW_KEY=new-value-0xdeadbeef\nOLD_KEY='replaced-0xdeadbeef'\nEMPTY=\nPEM=\"line-0xdeadbeef\nline two\"\nPATH=/value-0xdeadbeef\nbad-name=value-0xdeadbeef\n",
      );
      const r = await sb.run(["import", "--dry-run", file]);
      expect(r.stdout).toBe(
        [
          `${file}:1: add NEW_KEY`,
          `${file}:2: replace OLD_KEY (needs --replace)`,
          `${file}:3: skip EMPTY: its value is empty`,
          `${file}:4: add PEM`,
          `${file}:6: refuse: PATH is a reserved name (login: it changes how a program starts, what it loads or where it connects), so no secret may have it`,
          `${file}:7: refuse: the name is not environment-safe (letters, digits and '_', not starting with a digit, at most 128)`,
          "",
        ].join("\n"),
      );
      expect(r.stderr).toBe(
        `secretfile: dry run of ${file}, read as python-dotenv reads it, checked against Node's dotenv (no --dialect: a variable they read differently is refused): 2 to add, 1 to replace, 1 skipped, 2 refused; nothing was imported\n`,
      );
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).not.toContain("0xdeadbeef");
      const fixed = envFile(sb, "NEW_KEY=new\nOLD_KEY=replaced\n", "fixed.env");
      expect(await sb.run(["import", "--dry-run", fixed])).toMatchObject({
        code: 1,
        stdout: `${fixed}:1: add NEW_KEY\n${fixed}:2: replace OLD_KEY (needs --replace)\n`,
      });
      expect(await sb.run(["import", "--dry-run", "--replace", fixed])).toMatchObject({
        code: 0,
        stdout: `${fixed}:1: add NEW_KEY\n${fixed}:2: replace OLD_KEY\n`,
      });
      expect(readFileSync(sb.store).equals(before)).toBe(true);
      const fresh = sandbox();
      expect(await fresh.run(["import", "--dry-run", fixed])).toMatchObject({
        code: 0,
        stdout: `${fixed}:1: add NEW_KEY\n${fixed}:2: add OLD_KEY\n`,
      });
      expect(() => readFileSync(fresh.store)).toThrow(); // no store made by a dry run
    });
  },
);

describe("masking covers each line of a multi-line value as well as the whole", { timeout: SLOW }, () => {
  it("a job printing the PEM key whole, or one line of it, shows [NAME] instead", async () => {
    const sb = sandbox();
    await sb.add("GCP_KEY", PEM);
    const lines = PEM.split("\n");
    const script = `const v = process.env.GCP_KEY; console.log(v); console.log("line: " + v.split("\\n")[2]);`;
    const r = await sb.run(["exec", "--", process.execPath, "-e", script]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`[GCP_KEY]\nline: [GCP_KEY]\n`);
    expect(r.stdout).not.toContain(lines[2]!);
  });
});

describe(
  "property, end to end: a generated file is given to the job as dotenv reads it, or refused whole",
  { timeout: SLOW },
  () => {
    it("holds for 25 generated files through exec --env-file", async () => {
      const sb = sandbox();
      let n = 0;
      await fc.assert(
        fc.asyncProperty(envFiles, async (text) => {
          const file = envFile(sb, text, `gen-${n++}.env`);
          const theirs = dotenv.parse(text);
          const r = await sb.run([
            "exec",
            "--no-mask",
            "--dialect",
            "node",
            "--env-file",
            file,
            "--",
            process.execPath,
            ...PRINT,
            ...Object.keys(theirs),
          ]);
          // Refused only where our rules refuse (src/store/dotenv.ts in process), naming the file.
          if (r.code === execOwnExit(2))
            expect([
              r.stderr.startsWith(`secretfile: error: ${file}`),
              readDotenv(text, { dialect: "node", reserved: "accept" }).refused.length > 0,
            ]).toEqual([true, true]);
          else expect({ code: r.code, got: JSON.parse(r.stdout) as unknown }).toEqual({ code: 0, got: theirs });
        }),
        { numRuns: 25 },
      );
    });
  },
);
