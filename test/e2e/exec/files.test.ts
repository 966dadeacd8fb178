// exec --file end to end: a secret as a 0600 file in a fresh 0700 folder on a memory file system, gone afterwards.
// Rules: each test has its own $XDG_RUNTIME_DIR in /dev/shm, so a folder left behind is seen; the folder must be gone
// however the job ends: success, failure, a signal to secretfile, a job that cannot start.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSandboxes, sandbox, startCli, type Sandbox } from "../../helpers/personal.js";
import { execOwnExit } from "../../../src/errors.js";

const SLOW = 240_000;
const VALUE = "-----BEGIN KEY-----\nline two with  spaces\t\n-----END KEY-----  ";
const sha = (v: string) => createHash("sha256").update(v, "utf8").digest("hex");
/** Prints the file's path, its mode and type, its folder's, the file system type, its sha256, and GCP_KEY if set. */
const INSPECT =
  'f=$1; echo "$f"; stat -c "%a %F" "$f" "$(dirname "$f")"; stat -f -c %T "$f"; sha256sum < "$f" | cut -d" " -f1; echo "GCP_KEY=${GCP_KEY-unset}"';

const runtimeDirs: string[] = [];
afterAll(() => {
  removeSandboxes();
  for (const dir of runtimeDirs) rmSync(dir, { recursive: true, force: true });
});

/** A sandbox holding GCP_KEY, with its own XDG_RUNTIME_DIR (a fresh 0700 folder in /dev/shm). */
async function world(): Promise<{ sb: Sandbox; runtime: string; env: NodeJS.ProcessEnv }> {
  const runtime = mkdtempSync("/dev/shm/secretfile-test-runtime-");
  runtimeDirs.push(runtime);
  const sb = sandbox({ XDG_RUNTIME_DIR: runtime });
  await sb.add("GCP_KEY", `${VALUE}\n`);
  await sb.add("OTHER_KEY", "other-value-123456");
  return { sb, runtime, env: sb.env };
}

describe.concurrent("exec --file", { timeout: SLOW }, () => {
  it("puts the value, exactly, in a 0600 file in a fresh 0700 folder on tmpfs; NAME_FILE is its path, NAME is not set", async () => {
    const { sb, runtime } = await world();
    const job = await sb.run([
      "exec",
      "--file",
      "GCP_KEY",
      "--",
      "sh",
      "-c",
      `set -- "$GCP_KEY_FILE"; ${INSPECT}; echo "OTHER_KEY=\${OTHER_KEY-unset}"`,
    ]);
    expect(job).toMatchObject({ code: 0, stderr: "" });
    const [file, fileMode, dirMode, fsType, digest, gcp, other] = job.stdout.split("\n");
    expect(file).toMatch(new RegExp(`^${runtime}/secretfile-exec-\\d+-[A-Za-z0-9]{6}/GCP_KEY$`));
    expect([fileMode, dirMode, fsType, digest, gcp, other]).toEqual([
      "600 regular file",
      "700 directory",
      "tmpfs",
      sha(VALUE),
      "GCP_KEY=unset",
      "OTHER_KEY=unset",
    ]);
    expect(existsSync(path.dirname(file!))).toBe(false);
    expect(readdirSync(runtime)).toEqual([]);
  });

  it("--file VAR=NAME sets VAR to the path; --only NAME as well puts the value in the environment too", async () => {
    const { sb, runtime } = await world();
    const r = await sb.run([
      "exec",
      "--file",
      "GOOGLE_APPLICATION_CREDENTIALS=GCP_KEY",
      "--only",
      "GCP_KEY",
      "--",
      "sh",
      "-c",
      'set -- "$GOOGLE_APPLICATION_CREDENTIALS"; ' + INSPECT,
    ]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/\/GCP_KEY$/);
    expect(lines.slice(1, 6)).toEqual(["600 regular file", "700 directory", "tmpfs", sha(VALUE), "GCP_KEY=[GCP_KEY]"]);
    expect(readdirSync(runtime)).toEqual([]);
  });

  it("without a usable $XDG_RUNTIME_DIR (unset, or not a tmpfs) uses /dev/shm", async () => {
    const { sb } = await world();
    const onDisk = path.join(sb.root, "runtime-on-disk");
    mkdirSync(onDisk, { mode: 0o700 });
    const cases = { unset: { XDG_RUNTIME_DIR: undefined }, "not tmpfs": { XDG_RUNTIME_DIR: onDisk } };
    for (const [what, env] of Object.entries(cases)) {
      const r = await sb.run(["exec", "--file", "GCP_KEY", "--", "sh", "-c", `set -- "$GCP_KEY_FILE"; ${INSPECT}`], {
        env,
      });
      expect(r.code, what).toBe(0);
      expect(r.stdout.split("\n").slice(0, 4), what).toEqual([
        expect.stringMatching(/^\/dev\/shm\/secretfile-exec-\d+-\w{6}\/GCP_KEY$/),
        "600 regular file",
        "700 directory",
        "tmpfs",
      ]);
      expect(existsSync(path.dirname(r.stdout.split("\n")[0]!)), what).toBe(false);
    }
    expect(readdirSync(onDisk)).toEqual([]);
  });

  it("masks the file's value when the job prints it", async () => {
    const { sb } = await world();
    const r = await sb.run(["exec", "--file", "OTHER_KEY", "--", "sh", "-c", 'cat "$OTHER_KEY_FILE"; echo']);
    expect(r).toEqual({ code: 0, signal: null, stdout: "[OTHER_KEY]\n", stderr: "" });
  });

  it("removes the folder after a job that fails (its status passed through) and one killed by a signal", async () => {
    const { sb, runtime } = await world();
    const failed = await sb.run(["exec", "--file", "GCP_KEY", "--", "sh", "-c", 'test -f "$GCP_KEY_FILE" && exit 7']);
    expect(failed).toMatchObject({ code: 7, stdout: "" });
    const killed = await sb.run([
      "exec",
      "--file",
      "GCP_KEY",
      "--",
      "sh",
      "-c",
      'test -f "$GCP_KEY_FILE" && kill -KILL $$',
    ]);
    expect(killed).toMatchObject({ code: 137 });
    const unmasked = await sb.run([
      "exec",
      "--no-mask",
      "--file",
      "GCP_KEY",
      "--",
      "sh",
      "-c",
      'test -f "$GCP_KEY_FILE" && exit 3',
    ]);
    expect(unmasked).toMatchObject({ code: 3 });
    expect(readdirSync(runtime)).toEqual([]);
  });

  it("removes the folder when the job cannot start (127, 126)", async () => {
    const { sb, runtime } = await world();
    expect((await sb.run(["exec", "--file", "GCP_KEY", "--", "no-such-command-for-secretfile"])).code).toBe(127);
    expect((await sb.run(["exec", "--file", "GCP_KEY", "--", sb.identity])).code).toBe(126);
    expect(readdirSync(runtime)).toEqual([]);
  });

  it.for(["SIGTERM", "SIGINT", "SIGHUP"] as const)(
    "removes the folder when secretfile gets %s while the job runs, and exits 128+N",
    async (signal) => {
      const { runtime, env } = await world();
      for (const mask of [[], ["--no-mask"]]) {
        const job = startCli(
          ["exec", ...mask, "--file", "GCP_KEY", "--", "sh", "-c", 'echo "$GCP_KEY_FILE"; exec sleep 20'],
          env,
        );
        await job.waitFor("\n");
        const file = job.stdout().trim();
        expect(existsSync(file)).toBe(true);
        job.kill(signal);
        const r = await job.done;
        expect(r.code, `${signal} ${mask.join(" ")}`).toBe(128 + { SIGTERM: 15, SIGINT: 2, SIGHUP: 1 }[signal]);
        expect(existsSync(path.dirname(file))).toBe(false);
      }
      expect(readdirSync(runtime)).toEqual([]);
    },
  );

  it("removes a folder left by a secretfile killed with SIGKILL on the next --file run, and leaves live ones", async () => {
    const { sb, runtime, env } = await world();
    const dead = spawnSync("true").pid;
    const stale = path.join(runtime, `secretfile-exec-${dead}-abcdef`);
    mkdirSync(stale, { mode: 0o700 });
    const running = startCli(
      ["exec", "--file", "GCP_KEY", "--", "sh", "-c", 'echo "$GCP_KEY_FILE"; exec sleep 20'],
      env,
    );
    await running.waitFor("\n");
    const live = path.dirname(running.stdout().trim());
    const r = await sb.run(["exec", "--file", "OTHER_KEY", "--", "true"]);
    expect(r.code).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    running.kill("SIGTERM");
    await running.done;
    expect(readdirSync(runtime)).toEqual([]);
  });

  it("a missing secret is exit 3 and makes no folder; a bad --file is exit 2", async () => {
    const { sb, runtime } = await world();
    const missing = await sb.run(["exec", "--file", "GCP_KEY", "--file", "NO_SUCH_KEY", "--", "true"]);
    expect(missing).toMatchObject({ code: execOwnExit(3), stdout: "" });
    expect(missing.stderr).toMatch(/^secretfile: error: no secret named NO_SUCH_KEY in /);
    const bad = await sb.run(["exec", "--file", "BAD-NAME", "--", "true"]);
    expect(bad).toMatchObject({ code: execOwnExit(2), stdout: "" });
    expect(bad.stderr).toMatch(/^secretfile: error: invalid secret name "BAD-NAME"/);
    expect(readdirSync(runtime)).toEqual([]);
  });
});
