// Personal mode end to end: every command, its output and its exit code, as a user runs them.
// Rules: each test has its own HOME and store folder; stdout and stderr are asserted exactly where scripts rely on them.

import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, notStarted, ownExit } from "../../helpers/cli.js";
import { ALL } from "../../helpers/tier.js";
import { FIXTURES, modeOf, removeSandboxes, sandbox, startCli } from "../../helpers/personal.js";
import { execOwnExit } from "../../../src/errors.js";

const SYSTEM_SOCKET = "/run/secretfile/agent.sock";
const ENV_PROBE = path.join(FIXTURES, "env-probe.mjs");
const SIGNALS = path.join(FIXTURES, "signals.mjs");
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

const sha = (v: string) => ({
  sha256: createHash("sha256").update(v, "utf8").digest("hex"),
  bytes: Buffer.byteLength(v),
});
const noStoreHint = (dir: string) =>
  `secretfile: error: no personal store in ${dir}\nsecretfile: hint: run \`secretfile init\` (or \`secretfile add NAME\`, which creates it), or pass --dir\n`;

interface Info {
  name: string;
  created: string;
  updated: string;
  description?: string;
  expires?: string;
}
const parseLs = (stdout: string) => JSON.parse(stdout) as Info[];

afterAll(removeSandboxes);

/** Generous: these tests start many processes, and CI machines are shared. */
const SLOW = 240_000;

// Every test has its own sandbox, so they run concurrently: most of the time goes to starting node.
describe.concurrent("personal mode", { timeout: SLOW }, () => {
  describe("init", () => {
    it("creates an X25519 identity and an empty store, and says so on stderr only", async () => {
      const sb = sandbox();
      const r = await sb.run(["init"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("");
      const m = /^secretfile: created (\S+) \(public key (age1[a-z0-9]+)\)\n/.exec(r.stderr);
      expect(m?.[1]).toBe(sb.identity);
      const recipient = m![2]!;
      expect(r.stderr).toBe(
        `secretfile: created ${sb.identity} (public key ${recipient})\n` +
          `secretfile: created an empty store ${sb.store}\n` +
          `secretfile: back up ${sb.identity}: without it the store cannot be decrypted\n`,
      );
      const identity = readFileSync(sb.identity, "utf8");
      expect(identity).toContain(`# public key: ${recipient}\n`);
      expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]+$/m);
      expect(recipient.startsWith("age1pq")).toBe(false);
      const ls = await sb.run(["ls", "--json"]);
      expect(ls).toMatchObject({ code: 0, stdout: "[]\n", stderr: "" });
      const table = await sb.run(["ls"]);
      expect(table).toMatchObject({
        code: 0,
        stdout: "",
        stderr: "secretfile: no secrets yet: add one with `secretfile add NAME`\n",
      });
    });

    it("refuses to run twice and leaves the identity and store untouched (exit 1)", async () => {
      const sb = sandbox();
      await sb.init();
      const identity = readFileSync(sb.identity);
      const store = readFileSync(sb.store);
      const r = await sb.run(["init"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^secretfile: error: .*already exists/);
      expect(r.stderr).toContain(sb.store);
      expect(readFileSync(sb.identity).equals(identity)).toBe(true);
      expect(readFileSync(sb.store).equals(store)).toBe(true);
    });

    it("--pq creates a post-quantum hybrid identity that add and get use", async () => {
      const sb = sandbox();
      const r = await sb.run(["init", "--pq"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/\(public key age1pq1[a-z0-9]+\)\n/);
      expect(readFileSync(sb.identity, "utf8")).toMatch(/^AGE-SECRET-KEY-PQ-1[0-9A-Z]+$/m);
      expect(readFileSync(sb.store, "latin1")).toMatch(/^age-encryption\.org\/v1\n-> mlkem768x25519 /);
      await sb.add("PQ_KEY", "quantum safe\n");
      expect(await sb.run(["get", "PQ_KEY"])).toMatchObject({ code: 0, stdout: "quantum safe", stderr: "" });
      expect(readFileSync(sb.store, "latin1")).toMatch(/^age-encryption\.org\/v1\n-> mlkem768x25519 /);
    });
  });

  describe("add and get", () => {
    // [what, standard input, the value stored]
    const cases: [string, string, string][] = [
      ["no trailing newline", "s3cr3t", "s3cr3t"],
      ["a trailing \\n", "s3cr3t\n", "s3cr3t"],
      ["a trailing \\r\\n", "s3cr3t\r\n", "s3cr3t"],
      ["two trailing newlines (only one dropped)", "s3cr3t\n\n", "s3cr3t\n"],
      ["a lone trailing \\r (kept)", "s3cr3t\r", "s3cr3t\r"],
      ["inner newlines", "line one\nline two\n", "line one\nline two"],
      ["spaces, leading and trailing", "  a value with  spaces  ", "  a value with  spaces  "],
      ["quotes and shell characters", `it's "quoted" \`x\` $HOME \\n ; | & *`, `it's "quoted" \`x\` $HOME \\n ; | & *`],
      ["unicode", "pässwörd ключ 🔑 日本語 é\u0301", "pässwörd ключ 🔑 日本語 é\u0301"],
    ];

    it("stores each value exactly (one trailing newline dropped); get prints it with nothing added; exec passes it on", async () => {
      const sb = sandbox();
      await sb.init();
      const got: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const [i, [what, input, stored]] of cases.entries()) {
        const add = await sb.run(["add", `V${i}`], { input });
        const get = await sb.run(["get", `V${i}`]);
        got[what] = { add: [add.code, add.stdout, add.stderr], get: [get.code, get.stdout, get.stderr] };
        want[what] = { add: [0, "", `secretfile: added V${i}\n`], get: [0, stored, ""] };
      }
      expect(got).toEqual(want);
      const r = await sb.run(["exec", "--", process.execPath, ENV_PROBE, ...cases.map((_, i) => `V${i}`)]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toEqual(Object.fromEntries(cases.map(([, , stored], i) => [`V${i}`, sha(stored)])));
    });

    it("accepts exactly 64 KiB (65536 bytes, plus a trailing LF or CRLF or not) and refuses 65537 (exit 2)", async () => {
      const sb = sandbox();
      const max = "k".repeat(65536);
      await sb.add("MAX", max);
      await sb.add("MAX_NL", `${max}\n`);
      await sb.add("MAX_CRLF", `${max}\r\n`);
      const emoji = "🔑".repeat(16384); // 65536 bytes in 16384 characters
      await sb.add("MAX_EMOJI", emoji);
      for (const [name, value] of [
        ["MAX", max],
        ["MAX_EMOJI", emoji],
      ]) {
        const get = await sb.run(["get", name!]);
        expect(get.code).toBe(0);
        expect(get.stdout === value, `get ${name} returns the ${Buffer.byteLength(value!)} bytes`).toBe(true);
      }
      for (const [name, value] of [
        ["OVER", `${max}k`],
        ["OVER_EMOJI", `${emoji}k`],
        ["OVER_MORE", "k".repeat(70_000)],
      ]) {
        const r = await sb.run(["add", name!], { input: value });
        expect(r.code, name).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(
          new RegExp(`^secretfile: error: the value for ${name} .* than the 65536 (bytes )?allowed\n$`),
        );
      }
      const probe = await sb.run([
        "exec",
        "--only",
        "MAX_NL,MAX_CRLF,MAX_EMOJI",
        "--",
        process.execPath,
        ENV_PROBE,
        "MAX_NL",
        "MAX_CRLF",
        "MAX_EMOJI",
        "OVER",
      ]);
      expect(probe.code).toBe(0);
      expect(JSON.parse(probe.stdout)).toEqual({
        MAX_NL: sha(max),
        MAX_CRLF: sha(max),
        MAX_EMOJI: sha(emoji),
        OVER: null,
      });
      expect(parseLs((await sb.run(["ls", "--json"])).stdout).map((s) => s.name)).toEqual([
        "MAX",
        "MAX_CRLF",
        "MAX_EMOJI",
        "MAX_NL",
      ]);
    });

    // [what, standard input, the start of the error]
    const refused: [string, Buffer, string][] = [
      ["a NUL byte", Buffer.from("abc\0def"), "secretfile: error: the value for K contains a NUL byte\n"],
      [
        "invalid UTF-8",
        Buffer.from([0x61, 0xff, 0xfe, 0x62]),
        "secretfile: error: the value for K is not valid UTF-8 text\n",
      ],
      ["an empty value", Buffer.alloc(0), "secretfile: error: empty value for K\n"],
      ["only a newline", Buffer.from("\n"), "secretfile: error: empty value for K\n"],
    ];
    it("refuses a NUL byte, invalid UTF-8 and an empty value with exit 2, and stores nothing", async () => {
      const sb = sandbox();
      await sb.init();
      const got: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const [what, input, error] of refused) {
        const r = await sb.run(["add", "K"], { input });
        got[what] = [r.code, r.stdout, r.stderr.slice(0, error.length)];
        want[what] = [2, "", error];
      }
      expect(got).toEqual(want);
      expect((await sb.run(["ls", "--json"])).stdout).toBe("[]\n");
    });

    it("creates the folder, identity and store when none exists", async () => {
      const sb = sandbox();
      expect(existsSync(sb.dir)).toBe(false);
      const r = await sb.run(["add", "FIRST"], { input: "one\n" });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `secretfile: created a new personal store ${sb.store} and identity ${sb.identity}\n` +
          `secretfile: back up ${sb.identity}: without it the store cannot be decrypted\n` +
          "secretfile: added FIRST\n",
      );
      expect(modeOf(sb.dir)).toBe(0o700);
      expect(modeOf(sb.identity)).toBe(0o600);
      expect(modeOf(sb.store)).toBe(0o600);
      expect(await sb.run(["get", "FIRST"])).toMatchObject({ code: 0, stdout: "one", stderr: "" });
    });

    it("refuses a name that exists (exit 1) and keeps the old value", async () => {
      const sb = sandbox();
      await sb.add("K", "old");
      const r = await sb.run(["add", "K"], { input: "new" });
      expect(r).toMatchObject({
        code: 1,
        stdout: "",
        stderr: `secretfile: error: K already exists in ${sb.store}\nsecretfile: hint: use \`secretfile add K --replace\` to change its value\n`,
      });
      expect((await sb.run(["get", "K"])).stdout).toBe("old");
    });

    it("--replace changes the value, keeps created and the metadata not given, and moves updated", async () => {
      const sb = sandbox();
      await sb.add("K", "old", ["--description", "the router", "--expires", "2027-03-31"]);
      const [before] = parseLs((await sb.run(["ls", "--json"])).stdout);
      await new Promise((r) => setTimeout(r, 5));
      const r = await sb.run(["add", "K", "--replace"], { input: "new\n" });
      expect(r).toMatchObject({ code: 0, stdout: "", stderr: "secretfile: stored K\n" });
      expect((await sb.run(["get", "K"])).stdout).toBe("new");
      const [after] = parseLs((await sb.run(["ls", "--json"])).stdout);
      expect(after).toEqual({ ...before, updated: after!.updated });
      expect(after!.updated > before!.updated).toBe(true);
      const again = await sb.run(["add", "K", "--replace", "--description", "the switch"], { input: "newer" });
      expect(again.code).toBe(0);
      const [last] = parseLs((await sb.run(["ls", "--json"])).stdout);
      expect(last).toMatchObject({
        name: "K",
        created: before!.created,
        description: "the switch",
        expires: "2027-03-31",
      });
    });

    it("--replace of a name that does not exist adds it", async () => {
      const sb = sandbox();
      await sb.init();
      expect(await sb.run(["add", "NEW", "--replace"], { input: "v" })).toMatchObject({
        code: 0,
        stderr: "secretfile: stored NEW\n",
      });
      expect((await sb.run(["get", "NEW"])).stdout).toBe("v");
    });

    it("accepts a name of 128 characters and refuses 129 (exit 2)", async () => {
      const sb = sandbox();
      await sb.init();
      expect((await sb.run(["add", `A${"b".repeat(127)}`], { input: "v" })).code).toBe(0);
      const r = await sb.run(["add", `A${"b".repeat(128)}`], { input: "v" });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /^secretfile: error: invalid secret name "Ab+…"\nsecretfile: hint: .*at most 128 characters/,
      );
    });
  });

  describe("--description and --expires", () => {
    it("ls and ls --json show them, ls --json never a value", async () => {
      const sb = sandbox();
      await sb.add("MERAKI_API_KEY", "meraki-value-1234", [
        "--description",
        "dashboard API, netops",
        "--expires",
        "2027-03-31",
      ]);
      await sb.add("A_TOKEN", "token-value-5678", ["--expires", "2027-03-31T12:30:00Z"]);
      await sb.add("PLAIN", "plain-value-9012");
      const json = await sb.run(["ls", "--json"]);
      expect(json.code).toBe(0);
      expect(json.stderr).toBe("");
      const list = parseLs(json.stdout);
      expect(list.map((s) => s.name)).toEqual(["A_TOKEN", "MERAKI_API_KEY", "PLAIN"]);
      expect(list[0]).toEqual({
        name: "A_TOKEN",
        created: expect.any(String),
        updated: expect.any(String),
        expires: "2027-03-31T12:30:00.000Z",
        status: "ok",
      });
      expect(list[1]).toEqual({
        name: "MERAKI_API_KEY",
        created: expect.any(String),
        updated: expect.any(String),
        description: "dashboard API, netops",
        expires: "2027-03-31",
        status: "ok",
      });
      expect(list[2]).toEqual({
        name: "PLAIN",
        created: expect.any(String),
        updated: expect.any(String),
        status: "ok",
      });
      for (const s of list) expect(new Date(s.created).toISOString()).toBe(s.created);
      for (const v of ["meraki-value-1234", "token-value-5678", "plain-value-9012", '"value"'])
        expect(json.stdout).not.toContain(v);

      const table = await sb.run(["ls"]);
      expect(table.code).toBe(0);
      expect(table.stderr).toBe("");
      const lines = table.stdout.split("\n");
      expect(lines).toHaveLength(5);
      expect(lines[0]).toMatch(/^NAME\s+UPDATED\s+EXPIRES\s+STATUS\s+LAST READ\s+DESCRIPTION$/);
      expect(lines[1]).toMatch(/^A_TOKEN\s+\d{4}-\d\d-\d\d\s+2027-03-31\s+ok\s+-$/);
      expect(lines[2]).toMatch(/^MERAKI_API_KEY\s+\d{4}-\d\d-\d\d\s+2027-03-31\s+ok\s+-\s+dashboard API, netops$/);
      expect(lines[3]).toMatch(/^PLAIN\s+\d{4}-\d\d-\d\d\s+-\s+ok\s+-$/);
      expect(lines[4]).toBe("");
      for (const v of ["meraki-value-1234", "token-value-5678", "plain-value-9012"])
        expect(table.stdout).not.toContain(v);
    });

    it("refuses a bad --expires with exit 2 and adds nothing", async () => {
      const sb = sandbox();
      await sb.init();
      const got: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const date of ["tomorrow", "31/03/2027", "2027-13-01", "2027-03-32", "2027-00-10", "2027-03-31x", ""]) {
        const r = await sb.run(["add", "K", "--expires", date], { input: "v" });
        got[date] = [r.code, r.stdout, r.stderr];
        want[date] = [
          2,
          "",
          `secretfile: error: invalid expiry date ${JSON.stringify(date)}\nsecretfile: hint: use a date such as 2027-03-31\n`,
        ];
      }
      expect(got).toEqual(want);
      expect((await sb.run(["ls", "--json"])).stdout).toBe("[]\n");
    });

    // V8's Date.parse rolls an impossible day into the next month and reads words as month names; these must not pass.
    it("refuses impossible or garbled dates (2027-02-30, 2027-04-31, 2027-02-29, 2027-03-31junk) with exit 2", async () => {
      const sb = sandbox();
      const codes: Record<string, number | null> = {};
      for (const date of ["2027-02-30", "2027-04-31", "2027-02-29", "2027-03-31junk"]) {
        codes[date] = (await sb.run(["add", `K${Object.keys(codes).length}`, "--expires", date], { input: "v" })).code;
      }
      expect(codes).toEqual({ "2027-02-30": 2, "2027-04-31": 2, "2027-02-29": 2, "2027-03-31junk": 2 });
    });

    it("refuses a description with a control character or over 500 characters (exit 2)", async () => {
      const sb = sandbox();
      await sb.init();
      for (const text of ["two\nlines", "tab\there", "x".repeat(501)]) {
        const r = await sb.run(["add", "K", "--description", text], { input: "v" });
        expect(r.code, JSON.stringify(text.slice(0, 20))).toBe(2);
        expect(r.stderr).toMatch(/^secretfile: error: a description is one line/);
      }
      expect((await sb.run(["add", "K", "--description", "x".repeat(500)], { input: "v" })).code).toBe(0);
    });
  });

  describe("get", () => {
    it("a missing name is exit 3 with nothing on stdout", async () => {
      const sb = sandbox();
      await sb.add("K", "v");
      expect(await sb.run(["get", "NOPE"])).toEqual({
        code: 3,
        signal: null,
        stdout: "",
        stderr: `secretfile: error: no secret named NOPE in ${sb.store}\nsecretfile: hint: \`secretfile ls\` lists the names you can see\n`,
      });
    });
  });

  describe("rm", () => {
    it("removes a secret; removing it again is exit 3", async () => {
      const sb = sandbox();
      await sb.add("K", "v");
      await sb.add("KEEP", "w");
      expect(await sb.run(["rm", "K"])).toMatchObject({ code: 0, stdout: "", stderr: "secretfile: removed K\n" });
      expect((await sb.run(["get", "K"])).code).toBe(3);
      expect((await sb.run(["get", "KEEP"])).stdout).toBe("w");
      const again = await sb.run(["rm", "K"]);
      expect(again).toMatchObject({ code: 3, stdout: "" });
      expect(again.stderr).toMatch(new RegExp(`^secretfile: error: no secret named K in ${sb.store}\n`));
      expect(parseLs((await sb.run(["ls", "--json"])).stdout).map((s) => s.name)).toEqual(["KEEP"]);
    });
  });

  describe("exec", () => {
    it("gives the job every secret in its environment; an inherited variable is kept, with a warning, unless asked for", async () => {
      const sb = sandbox();
      await sb.add("A_KEY", "alpha value");
      await sb.add("B_KEY", "béta");
      const args = ["--", process.execPath, ENV_PROBE, "A_KEY", "B_KEY", "HOME", "INHERITED"];
      const env = { A_KEY: "from the caller", INHERITED: "kept" };
      const r = await sb.run(["exec", ...args], { env });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe(
        "secretfile: warning: A_KEY is not given to the job: the job's own environment sets it already, and keeps its value; to give the job the secret instead: --only A_KEY\n",
      );
      expect(JSON.parse(r.stdout)).toEqual({
        A_KEY: sha("from the caller"),
        B_KEY: sha("béta"),
        HOME: sha(sb.home),
        INHERITED: sha("kept"),
      });
      const asked = await sb.run(["exec", "--only", "A_KEY", ...args], { env });
      expect(asked.stderr).toBe("");
      expect(JSON.parse(asked.stdout)).toMatchObject({ A_KEY: sha("alpha value"), B_KEY: null });
    });

    it("--only gives the job just the names listed", async () => {
      const sb = sandbox();
      await sb.add("A_KEY", "a");
      await sb.add("B_KEY", "b");
      await sb.add("C_KEY", "c");
      const one = await sb.run([
        "exec",
        "--only",
        "B_KEY",
        "--",
        process.execPath,
        ENV_PROBE,
        "A_KEY",
        "B_KEY",
        "C_KEY",
      ]);
      expect(one.code).toBe(0);
      expect(JSON.parse(one.stdout)).toEqual({ A_KEY: null, B_KEY: sha("b"), C_KEY: null });
      const two = await sb.run([
        "exec",
        "--only",
        "A_KEY, C_KEY",
        "--",
        process.execPath,
        ENV_PROBE,
        "A_KEY",
        "B_KEY",
        "C_KEY",
      ]);
      expect(JSON.parse(two.stdout)).toEqual({ A_KEY: sha("a"), B_KEY: null, C_KEY: sha("c") });
      const missing = await sb.run(["exec", "--only", "A_KEY,NOPE", "--", process.execPath, ENV_PROBE, "A_KEY"]);
      expect(missing).toMatchObject({ code: execOwnExit(3), stdout: "" });
      expect(missing.stderr).toMatch(/^secretfile: error: no secret named NOPE in /);
    });

    it("passes the job's exit status through (0, 7, 255)", async () => {
      const sb = sandbox();
      await sb.init();
      const got: [number, number | null, string, string][] = [];
      for (const status of [0, 7, 255]) {
        const r = await sb.run(["exec", "--", "sh", "-c", `exit ${status}`]);
        got.push([status, r.code, r.stdout, r.stderr]);
      }
      expect(got).toEqual([0, 7, 255].map((s) => [s, s, "", ""]));
    });

    it("passes the job's output and arguments through untouched, never through a shell", async () => {
      const sb = sandbox();
      await sb.init();
      const args = ["a b", "$HOME", "*", "'q'", "; echo injected", ""];
      const r = await sb.run([
        "exec",
        "--",
        process.execPath,
        "-e",
        "console.log(JSON.stringify(process.argv.slice(1))); console.error('to stderr')",
        ...args,
      ]);
      expect(r).toMatchObject({ code: 0, stdout: `${JSON.stringify(args)}\n`, stderr: "to stderr\n" });
    });

    it("a job killed by signal N makes secretfile exit 128+N (KILL 137, SEGV 139)", async () => {
      const sb = sandbox();
      await sb.init();
      const got: Record<string, unknown> = {};
      for (const signal of ["KILL", "SEGV"]) {
        const r = await sb.run(["exec", "--", "sh", "-c", `kill -${signal} $$`]);
        got[signal] = [r.code, r.signal, r.stdout];
      }
      expect(got).toEqual({ KILL: [137, null, ""], SEGV: [139, null, ""] });
    });

    it("a command that does not exist is exit 127", async () => {
      const sb = sandbox();
      await sb.init();
      expect(await sb.run(["exec", "--", "no-such-command-for-secretfile"])).toEqual({
        code: 127,
        signal: null,
        stdout: "",
        stderr:
          "secretfile: error: cannot run no-such-command-for-secretfile: command not found\n" +
          "secretfile: hint: check the command's name and PATH (cron's PATH is short: use a full path)\n",
      });
      const byPath = await sb.run(["exec", "--", path.join(sb.root, "missing.sh")]);
      expect(byPath.code).toBe(127);
    });

    it("a file that is not executable is exit 126", async () => {
      const sb = sandbox();
      await sb.init();
      const script = path.join(sb.root, "job.sh");
      writeFileSync(script, "#!/bin/sh\necho ran\n", { mode: 0o644 });
      chmodSync(script, 0o644);
      const r = await sb.run(["exec", "--", script]);
      expect(r).toMatchObject({ code: 126, stdout: "" });
      expect(r.stderr).toBe(
        `secretfile: error: cannot run ${script}: permission denied\nsecretfile: hint: chmod +x ${script}\n`,
      );
    });

    it("passes SIGUSR1, SIGHUP and SIGTERM sent to secretfile on to the job, and exits with its status", async () => {
      const sb = sandbox();
      await sb.init();
      const job = startCli(["exec", "--", process.execPath, SIGNALS], sb.env);
      await job.waitFor("ready\n");
      for (const signal of ["SIGUSR1", "SIGHUP", "SIGWINCH"] as const) {
        job.kill(signal);
        await job.waitFor(`${signal}\n`);
      }
      job.kill("SIGTERM");
      const r = await job.done;
      expect(r).toEqual({ code: 0, signal: null, stdout: "ready\nSIGUSR1\nSIGHUP\nSIGWINCH\nSIGTERM\n", stderr: "" });
    });

    // A signal sent to secretfile's whole process group (`kill -INT -PGID`) must reach the job once, not once
    // from the kernel and once more forwarded: without a terminal the job runs in a process group of its own.
    it("a SIGINT sent to the process group (Ctrl-C at a terminal) reaches the job once", async () => {
      const sb = sandbox();
      await sb.init();
      const job = startCli(["exec", "--", process.execPath, SIGNALS], sb.env, "", 60_000, true);
      await job.waitFor("ready\n");
      process.kill(-job.pid, "SIGINT");
      await job.waitFor("SIGINT\n");
      // Give a second copy time to arrive, even on a busy machine; then end the job. A copy forwarded later still
      // shows: secretfile forwards in the order it receives, so it would reach the job before the SIGTERM sent next.
      await job.waitFor("SIGINT\nSIGINT\n", ALL ? 5_000 : 1_000).catch(() => undefined);
      job.kill("SIGTERM");
      expect(await job.done).toEqual({ code: 0, signal: null, stdout: "ready\nSIGINT\nSIGTERM\n", stderr: "" });
    });

    it("a signal sent to secretfile that kills the job the default way makes it exit 128+N (TERM, USR1, HUP, INT)", async () => {
      const sb = sandbox();
      await sb.init();
      const got: Record<string, unknown> = {};
      for (const signal of ["SIGTERM", "SIGUSR1", "SIGHUP", "SIGINT"] as const) {
        const job = startCli(["exec", "--", "sh", "-c", "echo ready; exec sleep 120"], sb.env);
        await job.waitFor("ready\n");
        job.kill(signal);
        got[signal] = await job.done;
      }
      const done = (code: number) => ({ code, signal: null, stdout: "ready\n", stderr: "" });
      expect(got).toEqual({ SIGTERM: done(143), SIGUSR1: done(138), SIGHUP: done(129), SIGINT: done(130) });
    });
  });

  describe("no store yet", () => {
    it.for([["get", "K"], ["ls"], ["ls", "--json"], ["rm", "K"], ["exec", "--", "true"]])(
      "`secretfile %s` is exit 1 with a hint to run secretfile init, and creates nothing",
      async (args) => {
        const sb = sandbox();
        expect(await sb.run(args)).toEqual({
          code: ownExit(args, 1),
          signal: null,
          stdout: "",
          stderr: noStoreHint(sb.dir) + (args[0] === "exec" ? notStarted(1) : ""),
        });
        expect(existsSync(sb.dir)).toBe(false);
      },
    );
  });

  describe("usage", () => {
    it("--help, -h and help COMMAND print help on stdout (exit 0)", async () => {
      const sb = sandbox();
      const r = await sb.run(["--help"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^Usage: secretfile /);
      for (const cmd of ["init", "add", "get", "ls", "rm", "exec"])
        expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, "m"));
      expect((await sb.run(["-h"])).stdout).toBe(r.stdout);
      const add = await sb.run(["add", "--help"]);
      expect(add.code).toBe(0);
      for (const opt of ["--replace", "--description <text>", "--expires <date>", "--dir <dir>"])
        expect(add.stdout).toContain(opt);
      const exec = await sb.run(["help", "exec"]);
      expect(exec.code).toBe(0);
      expect(exec.stdout).toContain("--only <names>");
      expect(existsSync(sb.dir)).toBe(false);
    });

    it("--version prints the package version and the commit it was built from", async () => {
      // The commit of the build, which may be older than HEAD: a short hash, or "unknown" outside git.
      const ran = await sandbox().run(["--version"]);
      expect(ran).toMatchObject({ code: 0, stderr: "" });
      expect(ran.stdout).toMatch(
        new RegExp(`^${VERSION.replaceAll(".", "\\.")} \\(commit ([0-9a-f]{7,}|unknown)\\)\n$`),
      );
    });

    // [argv, the first line on stderr]
    const bad: [string[], string][] = [
      [["bogus"], "secretfile: error: unknown command 'bogus'"],
      [["ls", "--bogus"], "secretfile: error: unknown option '--bogus'"],
      [["--bogus"], "secretfile: error: unknown option '--bogus'"],
      [["add"], "secretfile: error: missing required argument 'NAME'"],
      [["get"], "secretfile: error: missing required argument 'NAME'"],
      [["get", "A", "B"], "secretfile: error: too many arguments for 'get'. Expected 1 argument but got 2."],
      [["get", "1BAD"], 'secretfile: error: invalid secret name "1BAD"'],
      [["rm", "A-B"], 'secretfile: error: invalid secret name "A-B"'],
      [["get", "A B"], 'secretfile: error: invalid secret name "A B"'],
      [["add", "K", "--expires"], "secretfile: error: option '--expires <date>' argument missing"],
      [["exec", "--only", ",", "--", "true"], "secretfile: error: --only needs at least one name"],
      [["exec", "--only", "BAD-NAME", "--", "true"], 'secretfile: error: invalid secret name "BAD-NAME"'],
      [["exec"], "secretfile: error: missing required argument 'COMMAND'"],
      [["ls", "--dir", "x", "--socket", "y"], "secretfile: error: --dir and --socket cannot be used together"],
    ];
    it("unknown commands and options, missing or extra arguments and bad names are usage errors (exit 2)", async () => {
      const sb = sandbox();
      const got: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const [args, first] of bad) {
        const r = await sb.run(args, { input: "v" });
        got[args.join(" ")] = [r.code, r.stdout, r.stderr.split("\n")[0]];
        want[args.join(" ")] = [ownExit(args, 2), "", first];
      }
      expect(got).toEqual(want);
      const both = await sb.run(["ls"], { env: { SECRETFILE_SOCKET: path.join(sb.root, "agent.sock") } });
      expect([both.code, both.stdout, both.stderr.split("\n")[0]]).toEqual([
        2,
        "",
        "secretfile: error: SECRETFILE_DIR and SECRETFILE_SOCKET are both set",
      ]);
      expect(existsSync(sb.dir)).toBe(false);
    });

    it("no command at all prints the help on stderr (exit 2)", async () => {
      const r = await sandbox().run([]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^Usage: secretfile /);
    });
  });

  describe("exit codes", () => {
    it("personal mode produces each code of the design: 0, 1, 2, 3, 4, 5, and 126, 127 for exec", async () => {
      const sb = sandbox();
      const codes: Record<string, number | null> = {};
      codes["1 no store"] = (await sb.run(["ls"])).code;
      codes["0 add"] = (await sb.run(["add", "K"], { input: "v" })).code;
      codes["1 duplicate"] = (await sb.run(["add", "K"], { input: "v" })).code;
      codes["2 usage"] = (await sb.run(["get", "9"])).code;
      codes["3 not found"] = (await sb.run(["get", "NOPE"])).code;
      codes["126 not executable"] = (await sb.run(["exec", "--", sb.identity])).code;
      codes["127 not found"] = (await sb.run(["exec", "--", "no-such-command-for-secretfile"])).code;
      const store = readFileSync(sb.store);
      chmodSync(sb.store, 0o644);
      codes["4 unsafe mode"] = (await sb.run(["get", "K"])).code;
      chmodSync(sb.store, 0o600);
      writeFileSync(sb.store, store.subarray(0, store.length - 1));
      codes["5 damaged"] = (await sb.run(["get", "K"])).code;
      expect(codes).toEqual({
        "1 no store": 1,
        "0 add": 0,
        "1 duplicate": 1,
        "2 usage": 2,
        "3 not found": 3,
        "126 not executable": 126,
        "127 not found": 127,
        "4 unsafe mode": 4,
        "5 damaged": 5,
      });
    });
  });

  describe("the default store folder", () => {
    const socketExists = existsSync(SYSTEM_SOCKET);
    const why = `${SYSTEM_SOCKET} exists on this host, so the CLI would use the system agent`;
    /** The sandbox's environment without SECRETFILE_DIR, and with the system-host markers moved into the sandbox, so a
     * host with secretfile installed (/etc/secretfile/policy, /var/lib/secretfile) runs these tests as any other. */
    const noDir = (sb: ReturnType<typeof sandbox>) => ({
      ...sb.env,
      SECRETFILE_DIR: undefined,
      SECRETFILE_POLICY: path.join(sb.root, "no-policy"),
      SECRETFILE_STATE_DIR: path.join(sb.root, "no-state"),
    });

    it("is $XDG_CONFIG_HOME/secretfile when XDG_CONFIG_HOME is set", async (ctx) => {
      ctx.skip(socketExists, why);
      const sb = sandbox();
      const xdg = path.join(sb.root, "xdg");
      const env = { ...noDir(sb), XDG_CONFIG_HOME: xdg };
      const r = await sb.run(["init"], { env });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`created ${xdg}/secretfile/identity.txt `);
      expect(existsSync(path.join(xdg, "secretfile", "store.age"))).toBe(true);
      expect(existsSync(path.join(sb.home, ".config"))).toBe(false);
      expect(existsSync(sb.dir)).toBe(false);
      expect((await sb.run(["add", "K"], { env, input: "xdg" })).code).toBe(0);
      expect((await sb.run(["get", "K"], { env })).stdout).toBe("xdg");
    });

    it("is ~/.config/secretfile when neither SECRETFILE_DIR nor XDG_CONFIG_HOME is set (or XDG_CONFIG_HOME is empty)", async (ctx) => {
      ctx.skip(socketExists, why);
      const sb = sandbox();
      const env = noDir(sb);
      const r = await sb.run(["add", "K"], { env, input: "home" });
      expect(r.code).toBe(0);
      const dir = path.join(sb.home, ".config", "secretfile");
      expect(modeOf(path.join(dir, "store.age"))).toBe(0o600);
      expect(modeOf(dir)).toBe(0o700);
      expect(existsSync(sb.dir)).toBe(false);
      expect((await sb.run(["get", "K"], { env: { ...env, XDG_CONFIG_HOME: "" } })).stdout).toBe("home");
      const none = await sb.run(["get", "K"], { env: { ...env, HOME: path.join(sb.root, "elsewhere") } });
      expect(none).toMatchObject({
        code: 1,
        stderr: noStoreHint(path.join(sb.root, "elsewhere", ".config", "secretfile")),
      });
    });

    it("SECRETFILE_DIR wins over XDG_CONFIG_HOME, and --dir wins over SECRETFILE_DIR", async (ctx) => {
      ctx.skip(socketExists, why);
      const sb = sandbox();
      const xdg = path.join(sb.root, "xdg");
      mkdirSync(xdg);
      const flagDir = path.join(sb.root, "flag");
      expect((await sb.run(["add", "K"], { env: { XDG_CONFIG_HOME: xdg }, input: "from env" })).code).toBe(0);
      expect(existsSync(sb.store)).toBe(true);
      expect(existsSync(path.join(xdg, "secretfile"))).toBe(false);
      expect((await sb.run(["add", "K", "--dir", flagDir], { input: "from flag" })).code).toBe(0);
      expect((await sb.run(["get", "K"])).stdout).toBe("from env");
      expect((await sb.run(["get", "--dir", flagDir, "K"])).stdout).toBe("from flag");
      expect((await sb.run(["get", "K", "--dir", flagDir])).stdout).toBe("from flag");
    });
  });
});
