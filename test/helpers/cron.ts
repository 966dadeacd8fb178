// Debian's real cron daemon for end-to-end tests, and waiting on what its jobs write. Rules: a cron already running on
// the machine is reused, else one is started and stopped in afterAll (only the one started here); every wait has a
// deadline.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { afterAll } from "vitest";

export const CRON = "/usr/sbin/cron";
/** Whether Debian's cron daemon and crontab(1) are installed. */
export const hasCron = existsSync(CRON) && spawnSync("which", ["crontab"]).status === 0;
/** A job runs at the next minute boundary; allow one missed minute (a crontab installed just as the minute turns). */
export const CRON_WAIT_MS = 130_000;

/** Returns the pid of a live cron daemon already running on this machine, if any. */
function runningCron(): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (/^Name:\s+cron$/m.test(status) && !/^State:\s+Z/m.test(status)) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/**
 * Registers an afterAll that stops the cron daemon this file started, if any; returns `ensure`, which reuses a cron
 * daemon already running here, else starts one (call it again while waiting: a reused one may stop).
 */
export function useCron(): { ensure: () => Promise<void> } {
  let cron: ChildProcess | undefined;
  const alive = () => cron !== undefined && cron.exitCode === null && cron.signalCode === null;
  afterAll(async () => {
    if (!alive()) return;
    const ended = new Promise((r) => cron!.once("exit", r));
    cron!.kill("SIGTERM");
    await ended;
  });
  return {
    ensure: async () => {
      if (alive() || runningCron() !== undefined) return;
      cron = spawn(CRON, ["-f"], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, 500));
      if (cron.exitCode !== null && runningCron() === undefined)
        throw new Error(`${CRON} -f exited at once (${cron.exitCode})`);
    },
  };
}

/** Waits until `done()` holds, or `ms` passed; calls `tick` every half second meanwhile. Returns `done()`. */
export async function waitFor(done: () => boolean, ms: number, tick: () => Promise<void> = async () => {}) {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) {
    await tick();
    await new Promise((r) => setTimeout(r, 500));
  }
  return done();
}

/** Whether every file holds a full line (a job's status, written whole). */
export const filesWritten = (files: string[]) => () =>
  files.every((f) => existsSync(f) && readFileSync(f, "utf8").endsWith("\n"));
