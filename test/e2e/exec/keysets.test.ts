// exec key sets end to end: --map and --env-file give the job exactly the names it expects, and nothing else.
// Rules: each test has its own sandbox; a bad line or pair is exit 2 naming it (never a value), a missing secret exit 3
// before the job starts; masking covers every value the job got, whatever its name in the job.

import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES, removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";
import { notStarted } from "../../helpers/cli.js";
import { execOwnExit } from "../../../src/errors.js";

const ENV_PROBE = path.join(FIXTURES, "env-probe.mjs");
const sha = (v: string) => ({
  sha256: createHash("sha256").update(v, "utf8").digest("hex"),
  bytes: Buffer.byteLength(v),
});
/** A job that prints the variables named in argv as JSON, values included (null when unset). */
const PRINT = [
  "-e",
  "console.log(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((n) => [n, process.env[n] ?? null]))))",
];
const SLOW = 240_000;

const MERAKI = "meraki-prod-value-0123456789";
const WEBEX = "webex-value-abcdefghij";

/** A sandbox holding MERAKI_PROD_KEY and WEBEX_TOKEN. */
async function store(): Promise<Sandbox> {
  const sb = sandbox();
  await sb.add("MERAKI_PROD_KEY", MERAKI);
  await sb.add("WEBEX_TOKEN", WEBEX);
  return sb;
}

/** Writes `text` to a file in the sandbox; returns its path. */
function envFile(sb: Sandbox, text: string, name = "job.env"): string {
  const file = path.join(sb.root, name);
  writeFileSync(file, text);
  return file;
}

afterAll(removeSandboxes);

describe.concurrent("exec key sets", { timeout: SLOW }, () => {
  describe("--map", () => {
    it("gives the job ENV_NAME with SECRET_NAME's value, and neither the store name nor any other secret", async () => {
      const sb = await store();
      const r = await sb.run([
        "exec",
        "--map",
        "MERAKI_DASHBOARD_API_KEY=MERAKI_PROD_KEY",
        "--",
        process.execPath,
        ENV_PROBE,
        "MERAKI_DASHBOARD_API_KEY",
        "MERAKI_PROD_KEY",
        "WEBEX_TOKEN",
      ]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(JSON.parse(r.stdout)).toEqual({
        MERAKI_DASHBOARD_API_KEY: sha(MERAKI),
        MERAKI_PROD_KEY: null,
        WEBEX_TOKEN: null,
      });
    });

    it("with --only and a second --map, the job gets the union; one secret may go under two names", async () => {
      const sb = await store();
      const names = ["A", "B", "MERAKI_PROD_KEY", "WEBEX_TOKEN"];
      const r = await sb.run([
        "exec",
        "--only",
        "MERAKI_PROD_KEY",
        "--map",
        "A=MERAKI_PROD_KEY",
        "--map",
        "B=WEBEX_TOKEN",
        "--",
        process.execPath,
        ENV_PROBE,
        ...names,
      ]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(JSON.parse(r.stdout)).toEqual({
        A: sha(MERAKI),
        B: sha(WEBEX),
        MERAKI_PROD_KEY: sha(MERAKI),
        WEBEX_TOKEN: null,
      });
    });

    it("masks a mapped value in the job's output with the secret's store name", async () => {
      const sb = await store();
      const r = await sb.run([
        "exec",
        "--map",
        "DASH=MERAKI_PROD_KEY",
        "--",
        "sh",
        "-c",
        'echo "key: $DASH"; echo "err: $DASH" >&2',
      ]);
      expect(r).toEqual({
        code: 0,
        signal: null,
        stdout: "key: [MERAKI_PROD_KEY]\n",
        stderr: "err: [MERAKI_PROD_KEY]\n",
      });
    });

    it("a secret that does not exist is exit 3 naming it, and the job never starts", async () => {
      const sb = await store();
      const marker = path.join(sb.root, "ran");
      const r = await sb.run([
        "exec",
        "--map",
        "DASH=MERAKI_PROD_KEY",
        "--map",
        "X=NO_SUCH_KEY",
        "--",
        "touch",
        marker,
      ]);
      expect(r).toMatchObject({ code: execOwnExit(3), stdout: "" });
      expect(r.stderr).toMatch(/^secretfile: error: no secret named NO_SUCH_KEY in /);
      expect(existsSync(marker)).toBe(false);
    });

    it.for([
      ["NO_EQUALS_SIGN", '--map needs ENV_NAME=SECRET_NAME, got "NO_EQUALS_SIGN"'],
      ["=MERAKI_PROD_KEY", '--map needs ENV_NAME=SECRET_NAME, got "=MERAKI_PROD_KEY"'],
      ["BAD-NAME=MERAKI_PROD_KEY", '--map needs ENV_NAME=SECRET_NAME, got "BAD-NAME=MERAKI_PROD_KEY"'],
      ["DASH=", '--map needs ENV_NAME=SECRET_NAME, got "DASH="'],
    ])("--map %s is exit 2", async ([pair, message]) => {
      const sb = await store();
      const r = await sb.run(["exec", "--map", pair!, "--", "true"]);
      expect(r).toMatchObject({ code: execOwnExit(2), stdout: "" });
      expect(r.stderr).toBe(
        `secretfile: error: ${message}\nsecretfile: hint: e.g. --map MERAKI_DASHBOARD_API_KEY=MERAKI_PROD_KEY; names are letters, digits and '_'\n${notStarted(2)}`,
      );
    });

    it("a variable given two different secrets is exit 2 naming both sources", async () => {
      const sb = await store();
      const r = await sb.run(["exec", "--map", "DASH=MERAKI_PROD_KEY", "--map", "DASH=WEBEX_TOKEN", "--", "true"]);
      expect(r).toEqual({
        code: execOwnExit(2),
        signal: null,
        stdout: "",
        stderr: `secretfile: error: DASH is given twice: by --map DASH=MERAKI_PROD_KEY and by --map DASH=WEBEX_TOKEN\n${notStarted(2)}`,
      });
    });
  });

  describe("--env-file", () => {
    it("keeps an existing .env working: comments, blank lines, export, quotes, plain values and secretfile: references", async () => {
      const sb = await store();
      const file = envFile(
        sb,
        [
          "# the report job's settings",
          "",
          "MERAKI_DASHBOARD_API_KEY=secretfile:MERAKI_PROD_KEY",
          "export WEBEX_BOT_TOKEN = secretfile:WEBEX_TOKEN   # from the store",
          "  ORG_ID=123456",
          "export REGION='eu west  # not a comment'",
          'GREETING="hello\\tworld\\n\\"quoted\\" \\\\ $HOME"   # a comment',
          "URL=https://api.example.com/v1#fragment",
          "EMPTY=",
          "SPACED = two words  ",
          "CRLF=yes\r",
          "   # indented comment",
        ].join("\n"),
      );
      const vars = [
        "MERAKI_DASHBOARD_API_KEY",
        "WEBEX_BOT_TOKEN",
        "ORG_ID",
        "REGION",
        "GREETING",
        "URL",
        "EMPTY",
        "SPACED",
        "CRLF",
        "MERAKI_PROD_KEY",
        "WEBEX_TOKEN",
      ];
      const r = await sb.run(
        ["exec", "--no-mask", "--dialect", "node", "--env-file", file, "--", process.execPath, ...PRINT, ...vars],
        {
          env: { ORG_ID: "from the caller" },
        },
      );
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(JSON.parse(r.stdout)).toEqual({
        MERAKI_DASHBOARD_API_KEY: MERAKI,
        WEBEX_BOT_TOKEN: WEBEX,
        ORG_ID: "123456",
        REGION: "eu west  # not a comment",
        // As dotenv reads them: in double quotes only \n and \r are escapes; a '#' ends an unquoted value.
        GREETING: 'hello\\tworld\n\\"quoted\\" \\\\ $HOME',
        URL: "https://api.example.com/v1",
        EMPTY: "",
        SPACED: "two words",
        CRLF: "yes",
        MERAKI_PROD_KEY: null,
        WEBEX_TOKEN: null,
      });
    });

    it("masks the values it took from the store, not the plain ones", async () => {
      const sb = await store();
      const file = envFile(sb, "API_KEY=secretfile:MERAKI_PROD_KEY\nORG_ID=plain-org-123456\n");
      const r = await sb.run(["exec", "--env-file", file, "--", "sh", "-c", 'echo "$API_KEY $ORG_ID"']);
      expect(r).toEqual({ code: 0, signal: null, stdout: "[MERAKI_PROD_KEY] plain-org-123456\n", stderr: "" });
    });

    it("with --map, the job gets both; a variable both set differently is exit 2 naming the file and line", async () => {
      const sb = await store();
      const file = envFile(sb, "# settings\nA=secretfile:MERAKI_PROD_KEY\n");
      const both = await sb.run([
        "exec",
        "--env-file",
        file,
        "--map",
        "B=WEBEX_TOKEN",
        "--",
        process.execPath,
        ENV_PROBE,
        "A",
        "B",
      ]);
      expect(JSON.parse(both.stdout)).toEqual({ A: sha(MERAKI), B: sha(WEBEX) });
      const clash = await sb.run(["exec", "--env-file", file, "--map", "A=WEBEX_TOKEN", "--", "true"]);
      expect(clash).toEqual({
        code: execOwnExit(2),
        signal: null,
        stdout: "",
        stderr: `secretfile: error: A is given twice: by --map A=WEBEX_TOKEN and by ${file}:2\n${notStarted(2)}`,
      });
    });

    it("the caller's own file sets a reserved name as dotenv would (USERNAME, TZ), as --map does", async () => {
      const sb = await store();
      const file = envFile(sb, "USERNAME=report-bot\nexport TZ=UTC\nORG_ID=1\n");
      const r = await sb.run([
        "exec",
        "--no-mask",
        "--env-file",
        file,
        "--",
        process.execPath,
        ...PRINT,
        "USERNAME",
        "TZ",
      ]);
      expect(r).toMatchObject({ code: 0, stdout: '{"USERNAME":"report-bot","TZ":"UTC"}\n', stderr: "" });
    });

    it("two readings that differ stop the job (exit 2) naming the line and variable, never the value; --dialect picks", async () => {
      const sb = await store();
      const file = envFile(sb, "ORG_ID=1\nURL=https://h/v1#frag-0xdeadbeef\nHOME_DIR=${HOME}/x\n");
      const marker = path.join(sb.root, "ran");
      const r = await sb.run(["exec", "--env-file", file, "--", "touch", marker]);
      expect(r).toMatchObject({ code: execOwnExit(2), stdout: "" });
      expect(r.stderr.split("\n")[0]).toBe(
        `secretfile: error: ${file}:2: Node's dotenv and python-dotenv read URL differently: Node's dotenv ends an unquoted value at '#', python-dotenv only at a blank then '#' (1 more line is refused)`,
      );
      expect(r.stderr).toMatch(/\nsecretfile: hint: say how the file is read: --dialect python .* or --dialect node /);
      expect(r.stderr).not.toContain("0xdeadbeef");
      expect(existsSync(marker)).toBe(false);
      const read = async (dialect: string) => {
        const got = await sb.run(
          ["exec", "--dialect", dialect, "--env-file", file, "--", process.execPath, ...PRINT, "URL", "HOME_DIR"],
          { env: { HOME: "/home/job" } },
        );
        expect(got.code, got.stderr).toBe(0);
        return JSON.parse(got.stdout) as unknown;
      };
      expect(await read("python")).toEqual({ URL: "https://h/v1#frag-0xdeadbeef", HOME_DIR: "/home/job/x" });
      expect(await read("node")).toEqual({ URL: "https://h/v1", HOME_DIR: "${HOME}/x" });
      expect(await sb.run(["exec", "--dialect", "perl", "--env-file", file, "--", "true"])).toMatchObject({
        code: execOwnExit(2),
      });
    });

    it.for([
      [
        "a file its group may write",
        0o620,
        0o700,
        /mode 0620 lets its group or others write it$/m,
        /hint: chmod go-w /,
      ],
      [
        "a file in a folder others may write",
        0o600,
        0o777,
        /folder of the env file .* has mode 0777: group or others can write it/,
        /hint: sudo chmod 755 /,
      ],
    ])("refuses %s, as sshd's StrictModes does (exit 4), with the fix", async ([, fileMode, dirMode, what, hint]) => {
      const sb = await store();
      const dir = path.join(sb.root, "jobs");
      mkdirSync(dir);
      const file = envFile(sb, "ORG_ID=1\n", "jobs/job.env");
      chmodSync(file, fileMode as number);
      chmodSync(dir, dirMode as number);
      const marker = path.join(sb.root, "ran");
      const r = await sb.run(["exec", "--env-file", file, "--", "touch", marker]);
      expect(r).toMatchObject({ code: execOwnExit(4), stdout: "" });
      expect(r.stderr).toMatch(what as RegExp);
      expect(r.stderr).toMatch(hint as RegExp);
      expect(existsSync(marker)).toBe(false);
      chmodSync(dir, 0o755);
      chmodSync(file, 0o600);
      expect(await sb.run(["exec", "--env-file", file, "--", "touch", marker])).toMatchObject({ code: 0 });
    });

    it("refuses a file someone other than the caller or root owns (exit 4)", async ({ skip }) => {
      if (process.getuid?.() !== 0) skip("needs root to give the file to another uid");
      const sb = await store();
      const file = envFile(sb, "ORG_ID=1\n");
      chownSync(file, 65534, 65534);
      const r = await sb.run(["exec", "--env-file", file, "--", "true"]);
      expect(r).toMatchObject({ code: execOwnExit(4), stdout: "" });
      expect(r.stderr).toMatch(/refusing the env file .*: it is owned by uid 65534, not by you \(uid 0\) or root/);
    });

    it.for([
      [
        "a name starting with a digit",
        "1A=value-0xdeadbeef\n",
        1,
        "the name is not environment-safe (letters, digits and '_', not starting with a digit, at most 128)",
      ],
      [
        "a name with a dot",
        "\n\nmy.name='value-0xdeadbeef'\n",
        3,
        "the name is not environment-safe (letters, digits and '_', not starting with a digit, at most 128)",
      ],
      ["a bad secret name", "A=secretfile:not-a-name\n", 1, 'A refers to an invalid secret name after "secretfile:"'],
    ])("%s is exit 2 naming the file and line, never the line's text", async ([, text, line, what]) => {
      const sb = await store();
      const file = envFile(sb, text as string);
      const marker = path.join(sb.root, "ran");
      const r = await sb.run(["exec", "--env-file", file, "--", "touch", marker]);
      expect(r.code).toBe(execOwnExit(2));
      expect(r.stdout).toBe("");
      expect(r.stderr.split("\n")[0]).toBe(`secretfile: error: ${file}:${line}: ${what}`);
      expect(r.stderr).toMatch(
        /\nsecretfile: hint: change or remove that line: the file is read as dotenv reads it, VAR=secretfile:NAME/,
      );
      expect(r.stderr).not.toContain("0xdeadbeef");
      expect(existsSync(marker)).toBe(false);
    });

    it("a reference to a secret that does not exist is exit 3 naming it, and the job never starts", async () => {
      const sb = await store();
      const file = envFile(sb, "A=secretfile:MERAKI_PROD_KEY\nB=secretfile:NO_SUCH_KEY\n");
      const marker = path.join(sb.root, "ran");
      const r = await sb.run(["exec", "--env-file", file, "--", "touch", marker]);
      expect(r).toMatchObject({ code: execOwnExit(3), stdout: "" });
      expect(r.stderr).toMatch(/^secretfile: error: no secret named NO_SUCH_KEY in /);
      expect(existsSync(marker)).toBe(false);
    });

    it("a file that does not exist stops before the job starts, naming it", async () => {
      const sb = await store();
      const missing = path.join(sb.root, "missing.env");
      const marker = path.join(sb.root, "ran");
      const r = await sb.run(["exec", "--env-file", missing, "--", "touch", marker]);
      expect(existsSync(marker)).toBe(false);
      // Node (20 to 26 at least) looks at every --env-file in its argv, the script's included, and stops with exit 9
      // when the file cannot be read, before secretfile runs; the file is named either way.
      const ours = {
        code: 2,
        signal: null,
        stdout: "",
        stderr: `secretfile: error: cannot read the env file ${missing} (no such file)\n`,
      };
      const nodes = { code: 9, signal: null, stdout: "", stderr: `${process.execPath}: ${missing}: not found\n` };
      expect([ours, nodes]).toContainEqual(r);
    });

    it("a file of plain values only needs no store at all", async () => {
      const sb = sandbox();
      const file = envFile(sb, "ORG_ID=42\n");
      const r = await sb.run(["exec", "--env-file", file, "--", process.execPath, ...PRINT, "ORG_ID"]);
      expect(r).toEqual({ code: 0, signal: null, stdout: '{"ORG_ID":"42"}\n', stderr: "" });
      expect(existsSync(sb.dir)).toBe(false);
    });
  });
});
