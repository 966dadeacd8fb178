// `secretfile doctor` in personal mode, and against a dead agent socket: exit 0 on a healthy store; each problem it
// knows is a FAIL line with a `fix:` command that, run as printed, makes doctor exit 0 again.

import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN } from "../../helpers/cli.js";
import { removeSandboxes, sandbox, type Sandbox } from "../../helpers/personal.js";
import { START_AGENT } from "../../../src/client/unreachable.js";
import { RUNTIME_FIX } from "../../../src/doctor/runtime.js";

afterAll(removeSandboxes);

/** A sandbox whose PATH holds a `secretfile` command, so printed fixes run as a user would paste them. */
function withCommand(): Sandbox {
  const sb = sandbox();
  const bin = path.join(sb.root, "bin");
  mkdirSync(bin);
  writeFileSync(path.join(bin, "secretfile"), `#!/bin/sh\nexec ${process.execPath} ${BIN} "$@"\n`, { mode: 0o755 });
  sb.env.PATH = `${bin}:${sb.env.PATH ?? "/usr/bin:/bin"}`;
  return sb;
}

/** The `fix:` commands of a report, in order (but the runtime's, test/doctor/runtime.test.ts's). */
const fixesOf = (stdout: string) =>
  [...stdout.matchAll(/^ {5}fix: (.*)$/gm)].map((m) => m[1]!).filter((fix) => fix !== RUNTIME_FIX);

/** Runs a printed fix in a shell, with the sandbox's environment. */
function applyFix(sb: Sandbox, fix: string): void {
  const r = spawnSync("/bin/sh", ["-c", fix], { env: sb.env, encoding: "utf8" });
  expect(r.status, `${fix}: ${r.stderr}`).toBe(0);
}

describe("doctor, personal mode", () => {
  it("says which mode and why, checks every file, and exits 0 on a healthy store", async () => {
    const sb = sandbox();
    await sb.add("API_KEY", "v");
    const r = await sb.run(["doctor"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(`personal mode: the store in ${sb.dir} (SECRETFILE_DIR is set)`);
    expect(r.stdout).toMatch(new RegExp(`^ok   the store folder ${sb.dir} \\(.*0700\\)$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^ok   the identity ${sb.identity} \\(.*0600\\)$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^ok   the store ${sb.store} \\(.*0600\\)$`, "m"));
    expect(r.stdout).toContain("ok   the store decrypts with its identity: 1 secret: API_KEY");
    expect(r.stdout).toContain("personal mode keeps no audit log");
    expect(r.stdout).not.toContain("FAIL");
    expect(lines.at(-2)).toMatch(/^no problems found, (no|1) warnings?$/); // 1: the runtime's, on a Node past its end of life
  });

  it("prints the chmod fix for an identity others can read, and is healthy once it is applied", async () => {
    const sb = sandbox();
    await sb.init();
    chmodSync(sb.identity, 0o644);
    const r = await sb.run(["doctor"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL the identity ${sb.identity} has mode 0644: group or others can read it`);
    expect(fixesOf(r.stdout)).toEqual([`chmod 600 ${sb.identity}`]);
    applyFix(sb, fixesOf(r.stdout)[0]!);
    const after = await sb.run(["doctor"]);
    expect(after.code, after.stdout).toBe(0);
  });

  it.for([
    {
      what: "a folder others can write",
      mode: 0o777,
      text: "has mode 0777: group or others can write it",
      fix: "chmod 700",
    },
    {
      what: "a folder others can read (a warning only)",
      mode: 0o755,
      text: "has mode 0755, looser than the documented 0700",
      fix: "chmod 700",
    },
  ])("reports $what", async ({ mode, text, fix }) => {
    const sb = sandbox();
    await sb.init();
    chmodSync(sb.dir, mode);
    const r = await sb.run(["doctor"]);
    expect(r.code).toBe(mode & 0o022 ? 1 : 0);
    expect(r.stdout).toContain(`the store folder ${sb.dir} ${text}`);
    expect(fixesOf(r.stdout)).toEqual([`${fix} ${sb.dir}`]);
  });

  it("reports a missing store, and a missing folder whose fix (secretfile init) makes it healthy", async () => {
    const sb = withCommand();
    await sb.init();
    rmSync(sb.store);
    const missing = await sb.run(["doctor"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(`FAIL no store at ${sb.store} (its identity exists)`);
    expect(fixesOf(missing.stdout)).toEqual([`mv -T ${sb.identity} ${sb.identity}.old && secretfile init`]);

    rmSync(sb.dir, { recursive: true });
    const none = await sb.run(["doctor"]);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain(`FAIL no personal store in ${sb.dir}`);
    expect(fixesOf(none.stdout)).toEqual(["secretfile init"]);
    applyFix(sb, "secretfile init");
    expect((await sb.run(["doctor"])).code).toBe(0);
  });

  it("repeats --dir in its fixes when --dir chose the store", async () => {
    const sb = sandbox();
    const other = path.join(sb.root, "elsewhere");
    const r = await sb.run(["doctor", "--dir", other]);
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toBe(`personal mode: the store in ${other} (--dir was given)`);
    expect(fixesOf(r.stdout)).toEqual([`secretfile init --dir ${other}`]);
  });

  it("fails on an expired secret, with add --replace as its fix", async () => {
    const sb = sandbox();
    await sb.add("OLD_KEY", "v", ["--expires", "2020-01-01"]);
    await sb.add("FRESH_KEY", "v", ["--expires", "2999-01-01"]);
    const r = await sb.run(["doctor"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL OLD_KEY expired on 2020-01-01");
    expect(r.stdout).not.toMatch(/FRESH_KEY (expired|is due)/);
    expect(fixesOf(r.stdout)).toEqual(["secretfile add --replace OLD_KEY"]);
  });
});

describe("doctor, a dead agent socket", () => {
  it("exits 1 with the fix that starts it (systemd or not) when no socket is there", async () => {
    const sb = sandbox();
    const socket = path.join(sb.root, "agent.sock");
    const r = await sb.run(["doctor"], { env: { SECRETFILE_DIR: "", SECRETFILE_SOCKET: socket } });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toBe(`system mode: the agent at ${socket} (SECRETFILE_SOCKET is set)`);
    expect(r.stdout).toContain(`FAIL no agent socket at ${socket}: the agent is not running`);
    expect(fixesOf(r.stdout)).toContain(START_AGENT);
  });

  it("exits 1 with the fix that starts it (systemd or not) when nothing listens on the socket", async () => {
    const sb = sandbox();
    const socket = path.join(sb.root, "stale.sock");
    // A socket file left behind by a process that ended: bound, never listened on.
    const py = spawnSync("/usr/bin/python3", [
      "-c",
      "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      socket,
    ]);
    expect(py.status).toBe(0);
    const r = await sb.run(["doctor"], { env: { SECRETFILE_DIR: "", SECRETFILE_SOCKET: socket } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^FAIL cannot reach the agent at ${socket} \\(nothing is listening\\)`, "m"));
    expect(fixesOf(r.stdout)).toContain(START_AGENT);
  });
});
