// A signal to secretfile while its job runs, through the native starter and the fallback (SECRETFILE_NATIVE=0).
// Rules: every catchable terminating signal is passed on to the job, the --file folder is removed, and secretfile
// exits as the job does (128+N); no job outlives secretfile; SIGKILL of secretfile kills the job too (native starter:
// PR_SET_PDEATHSIG; the fallback cannot, see SECURITY.md), and its folder goes at the next --file run.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeSandboxes, sandbox, sleep, startCli, type Sandbox } from "../../helpers/personal.js";

const SLOW = 240_000;
const SIGNALS = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGUSR1",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGVTALRM",
  "SIGPROF",
  "SIGXCPU",
  "SIGXFSZ",
] as const;
/** The job: prints its --file path and its pid, then sleeps (in the same process) far longer than a test runs. */
const JOB = ["sh", "-c", 'echo "$SIGNAL_KEY_FILE"; echo $$; exec sleep 60'];

const runtimeDirs: string[] = [];
afterAll(() => {
  removeSandboxes();
  for (const dir of runtimeDirs) rmSync(dir, { recursive: true, force: true });
});

/** Returns true while `pid` runs (a zombie, waiting for its new parent to reap it, has ended). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Resolves true once `pid` has ended, false if it still runs after `ms`. */
async function ended(pid: number, ms = 10_000): Promise<boolean> {
  for (const start = Date.now(); Date.now() - start < ms;) {
    if (!running(pid)) return true;
    await sleep(20);
  }
  return false;
}

describe.each([
  ["the native starter", {}],
  ["node:child_process (SECRETFILE_NATIVE=0)", { SECRETFILE_NATIVE: "0" }],
] as const)("exec through %s, signalled", { timeout: SLOW }, (how, extraEnv) => {
  /** A sandbox holding SIGNAL_KEY, with its own XDG_RUNTIME_DIR in /dev/shm, so that a folder left behind is seen. */
  async function world(): Promise<{ sb: Sandbox; runtime: string }> {
    const runtime = mkdtempSync("/dev/shm/secretfile-test-runtime-");
    runtimeDirs.push(runtime);
    const sb = sandbox({ ...extraEnv, XDG_RUNTIME_DIR: runtime });
    await sb.add("SIGNAL_KEY", "signal-value-0123456789");
    return { sb, runtime };
  }

  /** Starts the job under `exec --file SIGNAL_KEY`; returns secretfile, the job's pid and the file's path. */
  async function start(sb: Sandbox, mask: string[]) {
    const cli = startCli(["exec", ...mask, "--file", "SIGNAL_KEY", "--", ...JOB], sb.env, "", 60_000);
    await cli.waitFor("\n", 60_000);
    for (const begun = Date.now(); !/\n\d+\n/.test(cli.stdout());) {
      if (Date.now() - begun > 60_000) throw new Error(`the job did not start: ${cli.stderr()}`);
      await sleep(10);
    }
    const [file, pid] = cli.stdout().split("\n");
    return { cli, file: file!, pid: Number(pid) };
  }

  it.concurrent.for(SIGNALS.map((s, i) => [s, i % 3 === 0 ? "--no-mask" : "masked"] as const))(
    "%s: passed on to the job, the folder removed, exit 128+N, no job left (%s)",
    async ([signal, mode]) => {
      const mask = mode === "masked" ? [] : [mode];
      const { sb, runtime } = await world();
      const { cli, file, pid } = await start(sb, mask);
      expect(existsSync(file)).toBe(true);
      cli.kill(signal);
      const r = await cli.done;
      expect([r.code, r.signal], `${how} ${signal}: ${r.stderr}`).toEqual([128 + os.constants.signals[signal], null]);
      expect(existsSync(path.dirname(file))).toBe(false);
      expect(readdirSync(runtime)).toEqual([]);
      expect(await ended(pid)).toBe(true);
    },
  );

  // The fallback cannot set PR_SET_PDEATHSIG (node:child_process runs no code between fork and exec): SECURITY.md.
  it.skipIf(how !== "the native starter")(
    "SIGKILL of secretfile kills the job as well (PR_SET_PDEATHSIG), masked or not",
    async () => {
      const { sb, runtime } = await world();
      for (const mask of [[], ["--no-mask"]]) {
        const { cli, file, pid } = await start(sb, mask);
        cli.kill("SIGKILL");
        expect((await cli.done).signal).toBe("SIGKILL");
        expect(await ended(pid), `the job of a killed secretfile (${mask.join(" ")})`).toBe(true);
        // The folder stays behind (nothing runs after SIGKILL); the next --file run removes it.
        expect(existsSync(file)).toBe(true);
      }
      expect((await sb.run(["exec", "--file", "SIGNAL_KEY", "--", "true"])).code).toBe(0);
      expect(readdirSync(runtime)).toEqual([]);
    },
  );
});
