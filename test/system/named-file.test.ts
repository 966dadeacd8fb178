// readNamedFile, the one reader of a file the caller named (a template, a .env file): in-process for each kind of file
// it refuses, and end to end for each command that takes one: a FIFO ends the command at once with exit 2 naming it.
// Rules: the commands run under a deadline, so a command that waits on the FIFO fails the test instead of hanging it.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AccessError, UsageError, execOwnExit } from "../../src/errors.js";
import { readNamedFile } from "../../src/system/named-file.js";
import { BIN, collect, tempDir, notStarted } from "../helpers/cli.js";
import { removeSandboxes, sandbox } from "../helpers/personal.js";

afterAll(removeSandboxes);

const mkfifo = (file: string) => expect(spawnSync("mkfifo", [file]).status).toBe(0);
const HINT = "give the path of a regular file: a FIFO, a device or a folder is not read";

describe("readNamedFile", () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);
  const file = (name: string, text: string | Buffer) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it("returns the text of a regular file, up to the limit exactly", () => {
    expect(readNamedFile(file("ok", "A=1\n"), "env file", 4)).toBe("A=1\n");
  });

  it.for([
    ["a FIFO", "FIFO", (p: string) => mkfifo(p), "is not a regular file (a FIFO)"],
    ["a folder", "folder", (p: string) => mkdirSync(p), "is not a regular file (a folder)"],
    ["a file over the limit", "big", (p: string) => writeFileSync(p, "A=12\n"), "is larger than the 4 bytes allowed"],
    [
      "a file that is not UTF-8",
      "latin1",
      (p: string) => writeFileSync(p, Buffer.from([0x41, 0x3d, 0xe9])),
      "is not UTF-8 text",
    ],
  ] as [string, string, (p: string) => void, string][])("refuses %s with exit 2, naming it", ([, name, make, why]) => {
    const p = path.join(dir, name);
    make(p);
    expect(() => readNamedFile(p, "env file", 4)).toThrow(
      expect.objectContaining({ constructor: UsageError, message: `the env file ${p} ${why}` }),
    );
  });

  it("refuses a device and a missing file with exit 2, naming them", () => {
    expect(() => readNamedFile("/dev/null", "template", 10)).toThrow(
      expect.objectContaining({
        constructor: UsageError,
        message: "the template /dev/null is not a regular file (a character device)",
        hint: HINT,
      }),
    );
    const missing = path.join(dir, "missing");
    expect(() => readNamedFile(missing, "template", 10)).toThrow(
      new UsageError(`cannot read the template ${missing} (no such file)`),
    );
  });

  it("refuses a symlink with exit 4, even to a regular file, and names the fix", () => {
    const link = path.join(dir, "link");
    symlinkSync(file("target", "A=1\n"), link);
    expect(() => readNamedFile(link, "env file", 10)).toThrow(
      expect.objectContaining({
        constructor: AccessError,
        message: `refusing to follow a symlink at the env file ${link}`,
        hint: expect.stringContaining(`readlink -f ${link}`) as unknown,
      }),
    );
  });
});

describe("a FIFO named to a command", () => {
  /** Long enough for a busy machine to start the CLI; a command that waits on the FIFO is killed here. */
  const DEADLINE_MS = 20_000;

  // The launcher runs as a user starts it, through its `#!/usr/bin/env -S node --` line: started as `node BIN …`
  // instead, Node itself reads an `--env-file` of the script's arguments before secretfile runs (Node 20).
  it.for([
    ["exec --env-file", "env file", (f: string) => ["exec", "--env-file", f, "--", "true"]],
    ["import", "env file", (f: string) => ["import", f]],
    ["import --dry-run", "env file", (f: string) => ["import", "--dry-run", f]],
    ["render", "template", (f: string) => ["render", f]],
    ["exec --render", "template", (f: string) => ["exec", "--render", `${f}:CONF`, "--", "true"]],
  ] as [string, string, (f: string) => string[]][])(
    "%s: exit 2 at once, naming the FIFO",
    { timeout: DEADLINE_MS + 10_000 },
    async ([, what, args]) => {
      const sb = sandbox();
      const fifo = path.join(sb.root, "app.fifo");
      mkfifo(fifo);
      const r = await collect(
        spawn(BIN, args(fifo), { env: sb.env, stdio: ["pipe", "pipe", "pipe"] }),
        "",
        DEADLINE_MS,
      );
      expect(r.signal, "killed at the deadline: it waited on the FIFO").toBeNull();
      const exec = args(fifo)[0] === "exec";
      expect(r).toEqual({
        code: exec ? execOwnExit(2) : 2,
        signal: null,
        stdout: "",
        stderr: `secretfile: error: the ${what} ${fifo} is not a regular file (a FIFO)\nsecretfile: hint: ${HINT}\n${exec ? notStarted(2) : ""}`,
      });
    },
  );
});
