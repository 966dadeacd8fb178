// import in personal mode, end to end: a .env with comments, quotes, export prefixes, empty values and references is
// imported in one write, as dotenv reads it; a refused line or an existing name stops everything; values never appear
// in the output.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { holdsPiece, removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";

afterAll(removeSandboxes);

/** Generous: these tests start many processes, and CI machines are shared. */
const SLOW = 240_000;

const ENV = [
  "# exported from the old server, 2026-11",
  "",
  "export MERAKI_API_KEY=meraki-0xfeed0001   # the dashboard key",
  "WEBEX_TOKEN='single # quoted, kept $HOME \\n as is'",
  'GRAFANA_TOKEN="double \\"quoted\\"\\nsecond line \\\\ backslash"',
  "  PLAIN_HASH=abc#def-0xfeed0004",
  "EMPTY_ONE=",
  "REFERENCE=secretfile:MERAKI_API_KEY",
  "WINDOWS_LINE=crlf-0xfeed0005\r",
  "",
].join("\n");
const EXPECTED: Record<string, string> = {
  MERAKI_API_KEY: "meraki-0xfeed0001",
  WEBEX_TOKEN: "single # quoted, kept $HOME \\n as is",
  // As dotenv reads them: in double quotes only \n and \r are escapes; a '#' ends an unquoted value.
  GRAFANA_TOKEN: 'double \\"quoted\\"\nsecond line \\\\ backslash',
  PLAIN_HASH: "abc",
  WINDOWS_LINE: "crlf-0xfeed0005",
};

const envFile = (sb: Sandbox, text: string, name = "app.env") => {
  const file = path.join(sb.root, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
};
const get = async (sb: Sandbox, name: string) => {
  const r = await sb.run(["get", name]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};

describe.concurrent("import (personal mode)", { timeout: SLOW }, () => {
  it("imports comments, quotes, export prefixes and trailing comments as dotenv writes them; reports counts, never values", async () => {
    const sb = sandbox();
    const file = envFile(sb, ENV);
    const r = await sb.run(["import", "--dialect", "node", file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines.filter((l) => !l.includes("created a new personal store") && !l.includes("back up "))).toEqual([
      `secretfile: ${file}:7: EMPTY_ONE skipped: its value is empty`,
      `secretfile: ${file}:8: REFERENCE skipped: its value is a reference (secretfile:…), not a value`,
      `secretfile: imported ${file}: 5 added, 0 replaced, 2 skipped`,
      "secretfile: added GRAFANA_TOKEN, MERAKI_API_KEY, PLAIN_HASH, WEBEX_TOKEN, WINDOWS_LINE",
      `secretfile: ${file} still holds the values in plain text: remove it once the import is checked`,
    ]);
    for (const v of Object.values(EXPECTED)) expect(holdsPiece(r.stderr, v)).toBe(false);
    for (const [name, v] of Object.entries(EXPECTED)) expect(await get(sb, name)).toBe(v);
    const ls = JSON.parse((await sb.run(["ls", "--json"])).stdout) as { name: string }[];
    expect(ls.map((s) => s.name)).toEqual(Object.keys(EXPECTED).sort());
  });

  it.for([
    ["a name that is not environment-safe", "A_KEY=1\nB-KEY=value-0xdeadbeef\n", 2, "the name is not environment-safe"],
    ["a name starting with a digit", "\n\n1KEY=value-0xdeadbeef\n", 3, "the name is not environment-safe"],
    [
      "a reserved name",
      "A_KEY=1\nexport NODE_OPTIONS='--require /tmp/value-0xdeadbeef.js'\n",
      2,
      "NODE_OPTIONS is a reserved name",
    ],
    [
      "a value over 64 KiB",
      `A_KEY=1\nBIG=${"x".repeat(65 * 1024)}\n`,
      2,
      "the value of BIG is 66560 bytes, more than the 65536 allowed",
    ],
  ])(
    "%s stops the import (exit 2) naming the line, never its text, and nothing is written",
    async ([, text, line, what]) => {
      const sb = sandbox();
      await sb.add("EXISTING", "kept");
      const before = readFileSync(sb.store);
      const file = envFile(sb, text as string);
      const r = await sb.run(["import", file]);
      expect(r).toMatchObject({ code: 2, stdout: "" });
      expect(
        r.stderr.split("\n")[0]!.startsWith(`secretfile: error: ${file}:${line as number}: ${what as string}`),
        r.stderr,
      ).toBe(true);
      expect(r.stderr).toMatch(
        /\nsecretfile: hint: change or remove that line, then import again \(nothing was imported\)/,
      );
      expect(r.stderr).not.toContain("0xdeadbeef");
      expect(readFileSync(sb.store).equals(before)).toBe(true);
    },
  );

  it("a bad line in a first import creates no store", async () => {
    const sb = sandbox();
    const r = await sb.run(["import", envFile(sb, "GOOD=1\nBAD-KEY=2\n")]);
    expect(r.code).toBe(2);
    expect(existsSync(sb.dir)).toBe(false);
  });

  it("existing names stop the whole import (exit 1) unless --replace, which keeps their old values in history", async () => {
    const sb = sandbox();
    await sb.add("A_KEY", "old-a");
    await sb.add("B_KEY", "old-b");
    const file = envFile(sb, "A_KEY=new-a\nB_KEY=new-b\nC_KEY=new-c\n");
    const refused = await sb.run(["import", file]);
    expect(refused).toMatchObject({ code: 1, stdout: "" });
    expect(refused.stderr).toBe(
      `secretfile: error: A_KEY, B_KEY already exist in ${sb.store}; nothing was imported\n` +
        "secretfile: hint: import again with --replace to replace them (their current values are kept in their history)\n",
    );
    expect(await sb.run(["get", "C_KEY"])).toMatchObject({ code: 3 }); // all or nothing: the new name was not added either
    expect(await get(sb, "A_KEY")).toBe("old-a");

    const r = await sb.run(["import", file, "--replace"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`secretfile: imported ${file}: 1 added, 2 replaced, 0 skipped\n`);
    expect(r.stderr).toContain("secretfile: added C_KEY\nsecretfile: replaced A_KEY, B_KEY\n");
    expect(await get(sb, "A_KEY")).toBe("new-a");
    expect(await sb.run(["rollback", "A_KEY"])).toMatchObject({ code: 0 });
    expect(await get(sb, "A_KEY")).toBe("old-a");
  });

  it("a file with nothing to import says so and writes nothing; a missing file is exit 2 naming it", async () => {
    const sb = sandbox();
    const empty = await sb.run(["import", envFile(sb, "# only comments\n\nEMPTY=\n")]);
    expect(empty).toMatchObject({ code: 0, stdout: "" });
    expect(empty.stderr).toMatch(
      /EMPTY skipped: its value is empty\nsecretfile: nothing to import from \S+app\.env\n$/,
    );
    expect(existsSync(sb.dir)).toBe(false);
    const missing = path.join(sb.root, "missing.env");
    expect(await sb.run(["import", missing])).toMatchObject({
      code: 2,
      stderr: `secretfile: error: cannot read the env file ${missing} (no such file)\n`,
    });
  });
});
