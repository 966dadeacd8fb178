// Attack: reading a running `secretfile` CLI's memory from another process of the same user, or a core file of it,
// while it holds values (an `add` waiting for its value, an `exec` holding the job's keys). The CLI makes itself
// non-dumpable before any command runs; seen from outside, its /proc files belong to root and its own user is refused
// mem, environ, maps and ptrace. `exec`'s job is an ordinary process again (the kernel resets the flag on execve) and
// keeps the core-file limit it would have had without secretfile.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cleanEnv, isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, NODE, useSystem, type TestUser } from "../../helpers/system.js";
import { coreLimit, probeAs } from "./probe.js";

/** Starts `secretfile ARGS` as `user` with standard input left open; resolves once `ready(pid)` holds (or 10 s). */
async function startHeld(bin: string, user: TestUser, args: string[], home: string): Promise<ChildProcess> {
  const child = spawn(NODE, [bin, ...args], {
    uid: user.uid,
    gid: user.gid,
    env: cleanEnv({ HOME: home }),
    cwd: home,
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdout.resume();
  child.stderr.resume();
  return child;
}

/** Waits until `test()` is true, checking every 20 ms, for at most `ms`. */
async function until(test: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !test();) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const notDumpable = (pid: number) => {
  try {
    return statSync(`/proc/${pid}/environ`).uid === 0;
  } catch {
    return false;
  }
};

describe.skipIf(!isRoot)(`the CLI's process, seen from outside (${NEEDS_ROOT})`, { timeout: 60_000 }, () => {
  const sys = useSystem(["owner"]);

  it("an `add` waiting for its value is closed to its own user: /proc/PID is root's, no mem, environ, maps or ptrace, no core", async () => {
    const { owner } = sys.users;
    const home = sys.world.mkdir("add-home", 0o700, owner);
    const dir = path.join(home, "store");
    const first = await sys.world.run(["add", "--dir", dir, "FIRST"], { as: owner, input: "first-value-123" });
    expect(first.code, first.stderr).toBe(0);
    const cli = await startHeld(sys.world.bin, owner, ["add", "--dir", dir, "HELD"], home);
    try {
      await until(() => notDumpable(cli.pid!));
      expect(readFileSync(`/proc/${cli.pid}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\s+${owner.uid}\\s`, "m"));
      expect(probeAs(owner, cli.pid!)).toEqual({
        environ: "EACCES",
        mem: "EACCES",
        maps: "EACCES",
        cmdline: "read",
        status: "read",
        ptrace: "EPERM",
      });
      expect(coreLimit(cli.pid!)).toEqual(["0", "0"]);
    } finally {
      cli.stdin!.end("held-value-456");
    }
    const code = await new Promise((r) => cli.once("close", r));
    expect(code).toBe(0);
    expect(await sys.world.run(["get", "--dir", dir, "HELD"], { as: owner })).toMatchObject({
      code: 0,
      stdout: "held-value-456",
    });
  });

  it("an `exec` holding values is closed the same way, while its job is an ordinary process with the usual core limit", async () => {
    const { owner } = sys.users;
    const home = sys.world.mkdir("exec-home", 0o700, owner);
    const dir = path.join(home, "store");
    expect(
      (await sys.world.run(["add", "--dir", dir, "API_KEY"], { as: owner, input: "exec-held-value-789" })).code,
    ).toBe(0);
    const cli = await startHeld(sys.world.bin, owner, ["exec", "--dir", dir, "--", "/bin/sleep", "30"], home);
    try {
      let job = 0;
      await until(() => {
        const kids = readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, "utf8")
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map(Number);
        job = kids.find((k) => readFileSync(`/proc/${k}/comm`, "utf8").trim() === "sleep") ?? 0;
        return job !== 0;
      });
      expect(notDumpable(cli.pid!)).toBe(true);
      expect(probeAs(owner, cli.pid!)).toMatchObject({ environ: "EACCES", mem: "EACCES", ptrace: "EPERM" });
      // The job: its own user may read it, as any process of theirs, and its core limit is this test's, not 0.
      expect(statSync(`/proc/${job}/environ`).uid).toBe(owner.uid);
      expect(readFileSync(`/proc/${job}/environ`, "utf8")).toContain("API_KEY=exec-held-value-789");
      expect(coreLimit(job)).toEqual(coreLimit(process.pid));
    } finally {
      cli.kill("SIGTERM");
    }
    await new Promise((r) => cli.once("close", r));
  });
});
