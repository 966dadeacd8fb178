// Running and timing processes: one at a time (wall time), many at once (a burst), and their peak memory.
// Rules: argv arrays only, never a shell; every run has a timeout; a failed run is an error with its stderr, never a time.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

/**
 * A command to run: `argv` plus where and as whom. `as` is { uid, gid } or undefined for this process's user;
 * `input` goes to standard input; `stdout` is "ignore" (the default, /dev/null) or "pipe".
 * @typedef {{ label: string, argv: string[], env: Record<string, string>, cwd: string, as?: { uid: number, gid: number },
 *   input?: string, stdout?: "ignore" | "pipe", timeoutMs?: number, expectCode?: number }} Cmd
 */

/**
 * Returns the clean environment every measured command runs in (as cron gives a job): PATH with this node first, HOME,
 * LANG, plus `extra`; nothing of the bench's own environment leaks in (no SECRETFILE_*, NODE_OPTIONS, NODE_EXTRA_CA_CERTS).
 */
export function baseEnv(home, extra = {}) {
  const nodeDir = path.dirname(process.execPath);
  return { PATH: `${nodeDir}:/usr/local/bin:/usr/bin:/bin`, HOME: home, LANG: "C.UTF-8", ...extra };
}

/** Runs `cmd` once, waiting for it; returns { ms, code, signal, stderr, stdout }. Throws only when it cannot be spawned. */
export function runOnce(cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd.argv[0], cmd.argv.slice(1), {
    env: cmd.env,
    cwd: cmd.cwd,
    input: cmd.input ?? "",
    stdio: ["pipe", cmd.stdout ?? "ignore", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
    timeout: cmd.timeoutMs ?? 120_000,
    killSignal: "SIGKILL",
    ...(cmd.as ? { uid: cmd.as.uid, gid: cmd.as.gid } : {}),
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error && r.error.code !== "ETIMEDOUT") throw new Error(`cannot run ${cmd.label}: ${r.error.message}`);
  return {
    ms,
    code: r.status,
    signal: r.signal,
    stderr: String(r.stderr ?? ""),
    stdout: r.stdout ? String(r.stdout) : "",
  };
}

/** Runs `cmd` once and returns its wall time in ms; throws with its stderr when it does not end with the expected code. */
export function timeOnce(cmd) {
  const r = runOnce(cmd);
  const want = cmd.expectCode ?? 0;
  if (r.code !== want) {
    throw new Error(
      `${cmd.label} ended with ${r.code ?? r.signal} (expected ${want}): ${r.stderr.trim().slice(0, 600)}`,
    );
  }
  return r.ms;
}

/**
 * Starts `count` copies of `cmd` at once and waits for all of them.
 * Resolves with { ms (first spawn to last exit), ok, failed, failures: [{ code, signal, stderr }] (at most 5 kept) }.
 */
export function burst(cmd, count) {
  return new Promise((resolve) => {
    const failures = [];
    let failed = 0;
    let left = count;
    const t0 = process.hrtime.bigint();
    const finish = (failure) => {
      if (failure) {
        failed++;
        if (failures.length < 5) failures.push(failure);
      }
      if (--left === 0)
        resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: count - failed, failed, failures });
    };
    for (let i = 0; i < count; i++) {
      const child = spawn(cmd.argv[0], cmd.argv.slice(1), {
        env: cmd.env,
        cwd: cmd.cwd,
        stdio: ["ignore", "ignore", "pipe"],
        ...(cmd.as ? { uid: cmd.as.uid, gid: cmd.as.gid } : {}),
      });
      let stderr = "";
      let done = false;
      const timer = setTimeout(() => child.kill("SIGKILL"), cmd.timeoutMs ?? 180_000);
      child.stderr.setEncoding("utf8").on("data", (d) => (stderr.length < 2000 ? (stderr += d) : undefined));
      const end = (failure) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        finish(failure);
      };
      child.on("error", (err) => end({ code: null, signal: null, stderr: err.message }));
      child.on("close", (code, signal) =>
        end(code === 0 ? undefined : { code, signal, stderr: stderr.trim().slice(0, 400) }),
      );
    }
  });
}

/** Returns the VmRSS and VmHWM of `pid` in KiB from /proc/PID/status, or undefined once it has ended. */
export function memoryOf(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m").exec(text)?.[1] ?? NaN);
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/** The tool that measures a command's peak RSS: GNU time when present, else VmHWM polling. */
export const TIME_BIN = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

/**
 * Runs `cmd` once and returns its peak resident set size in KiB (the largest of it and the children it waited for),
 * with `/usr/bin/time -f %M` when present, else by polling /proc/PID/status VmHWM every 2 ms.
 */
export async function peakRssKiB(cmd, scratch) {
  if (TIME_BIN !== undefined) {
    const out = path.join(scratch, `time-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
    const r = runOnce({ ...cmd, argv: [TIME_BIN, "-f", "%M", "-o", out, ...cmd.argv] });
    const text = existsSync(out) ? readFileSync(out, "utf8") : "";
    rmSync(out, { force: true });
    if (r.code !== (cmd.expectCode ?? 0))
      throw new Error(`${cmd.label} ended with ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 400)}`);
    const kib = Number(text.trim().split("\n").pop());
    if (!Number.isFinite(kib)) throw new Error(`/usr/bin/time wrote no peak RSS for ${cmd.label}: ${text}`);
    return kib;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.argv[0], cmd.argv.slice(1), {
      env: cmd.env,
      cwd: cmd.cwd,
      stdio: ["pipe", "ignore", "ignore"],
      ...(cmd.as ? { uid: cmd.as.uid, gid: cmd.as.gid } : {}),
    });
    child.stdin.end(cmd.input ?? "");
    let peak = 0;
    const poll = setInterval(() => {
      const m = memoryOf(child.pid);
      if (m !== undefined && m.hwm > peak) peak = m.hwm;
    }, 2);
    child.on("error", (err) => {
      clearInterval(poll);
      reject(err);
    });
    child.on("close", (code) => {
      clearInterval(poll);
      if (code !== (cmd.expectCode ?? 0)) reject(new Error(`${cmd.label} ended with ${code}`));
      else resolve(peak);
    });
  });
}

/** Resolves after `ms`. */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
