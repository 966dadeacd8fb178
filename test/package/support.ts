// Helpers of the package tests: a copy of the checkout to build packages in (so the worktree's dist/ is left alone),
// the Debian 12 root they install into, and running a command in it with a deadline.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers/cli.js";

/** The cached minbase bookworm root the chroot test copies (made with debootstrap when missing). */
export const BOOKWORM_CACHE = process.env.SECRETFILE_TEST_BOOKWORM ?? "/var/cache/secretfile-test/bookworm";
/** The mirror debootstrap makes it from. */
export const MIRROR = "http://deb.debian.org/debian";
/** The version in package.json. */
export const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** Returns true when `cmd` runs (`--version` or `--help` exits 0). */
export function has(cmd: string, arg = "--version"): boolean {
  return spawnSync(cmd, [arg], { stdio: "ignore" }).status === 0;
}

/** Runs `cmd ARGS` with a deadline and a clean environment; returns its result (status null when killed). */
export function sh(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    killSignal: "SIGKILL",
    cwd: opts.cwd,
    input: opts.input,
    env: opts.env ?? { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", HOME: "/root" },
    maxBuffer: 1 << 26,
  });
}

/**
 * Copies the checkout's files (tracked and new, not ignored) into a fresh folder under /var/tmp, with node_modules
 * linked, so `npm run package` there builds without touching the worktree's dist/. Returns the folder.
 */
export function copyCheckout(): string {
  const dir = mkdtempSync("/var/tmp/secretfile-pkgsrc-");
  const files = sh("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT }).stdout.split("\0").filter(Boolean);
  for (const f of files) {
    if (f === "node_modules" || !existsSync(path.join(ROOT, f))) continue;
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    cpSync(path.join(ROOT, f), path.join(dir, f), { verbatimSymlinks: true });
  }
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** Builds the package in the copy `src` as `version` (gzip, fast); returns the .deb's path. Throws with its output. */
export function buildPackage(src: string, version: string): string {
  const commit = sh("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).stdout.trim() || "unknown";
  const env: NodeJS.ProcessEnv = { ...process.env, SECRETFILE_PACKAGE_VERSION: version, SECRETFILE_BUILD_COMMIT: commit, SECRETFILE_PACKAGE_COMPRESS: "gzip" };
  delete env.NODE_OPTIONS;
  const r = sh(process.execPath, ["build/package.mjs"], { cwd: src, env, timeoutMs: 300_000 });
  if (r.status !== 0) throw new Error(`npm run package failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  const deb = path.join(src, r.stdout.trim().split("\n").pop()!);
  if (!existsSync(deb)) throw new Error(`npm run package printed ${r.stdout.trim()}, which does not exist`);
  return deb;
}

/** The pids of processes whose root is `dir` (the chroot's), for cleaning up what the test started there. */
export function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (readlinkSync(`/proc/${p}/root`) === dir) pids.push(Number(p));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}
