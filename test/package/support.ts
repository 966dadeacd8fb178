// Helpers of the package tests: packages built in a copy of the checkout (so the worktree's dist/ is left alone) and
// cached by what they are built from, the Debian 12 root they install into, and running a command with a deadline.
import { createHash } from "node:crypto";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers/cli.js";

/** The cached minbase bookworm root the chroot test copies (made with debootstrap when missing). */
export const BOOKWORM_CACHE = process.env.SECRETFILE_TEST_BOOKWORM ?? "/var/cache/secretfile-test/bookworm";
/** The mirror debootstrap makes it from. */
export const MIRROR = "http://deb.debian.org/debian";
/** The version in package.json. */
export const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string })
  .version;
/** The version of the package the tests upgrade to (same code, a higher version). */
export const UPGRADE = `${VERSION}+upgrade1`;

/** Returns true when `cmd` runs (`--version` or `--help` exits 0). */
export function has(cmd: string, arg = "--version"): boolean {
  return spawnSync(cmd, [arg], { stdio: "ignore" }).status === 0;
}

/** Runs `cmd ARGS` with a deadline and a clean environment; returns its result (status null when killed). */
export function sh(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): SpawnSyncReturns<string> {
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

/** The node_modules folders a copy links to: the project's, and the pinned runtime's (build/runtime.mjs). */
const LINKED = ["node_modules", "packaging/runtime/node_modules"];

/**
 * Copies the checkout's files (tracked and new, not ignored) into `dir` (a fresh folder under /var/tmp by default), with
 * node_modules linked unless `linkModules` is false (a clone as a user has it), so `npm run package` there builds
 * without touching the worktree's dist/. Returns the folder.
 */
export function copyCheckout(
  dir = mkdtempSync("/var/tmp/secretfile-pkgsrc-"),
  { linkModules = true }: { linkModules?: boolean } = {},
): string {
  for (const f of checkoutFiles()) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    cpSync(path.join(ROOT, f), path.join(dir, f), { verbatimSymlinks: true });
  }
  for (const linked of linkModules ? LINKED : []) {
    if (existsSync(path.join(ROOT, linked))) symlinkSync(path.join(ROOT, linked), path.join(dir, linked));
  }
  return dir;
}

/**
 * Returns a cached Debian 12 root (debootstrap --variant=minbase, kept outside /tmp for later runs), with `packages`
 * installed by apt when given (each set cached as a root of its own). Made once, under a lock, so test files running
 * at once share it. Returns `{ why }` when it cannot be made (no debootstrap, mirror unreachable): the caller skips.
 */
export function bookwormRoot(packages: string[] = []): { root: string } | { why: string } {
  const base = BOOKWORM_CACHE;
  const root = packages.length === 0 ? base : `${base}-${packages.join("-")}`;
  mkdirSync(path.dirname(base), { recursive: true });
  return withLock(`${root}.lock`, () => {
    if (existsSync(path.join(root, "usr/bin/apt"))) return { root };
    if (packages.length === 0) {
      if (!has("debootstrap")) return { why: `no Debian 12 root at ${base}, and debootstrap is not installed` };
      const made = sh("debootstrap", ["--variant=minbase", "bookworm", `${base}.part`, MIRROR], { timeoutMs: 900_000 });
      if (made.status !== 0) {
        rmSync(`${base}.part`, { recursive: true, force: true });
        return { why: `debootstrap could not make ${base} from ${MIRROR}: ${made.stderr.trim().split("\n").pop()}` };
      }
      renameSync(`${base}.part`, base);
      return { root };
    }
    const from = bookwormRoot();
    if ("why" in from) return from;
    const part = `${root}.part`;
    rmSync(part, { recursive: true, force: true });
    mkdirSync(part);
    const inPart = (cmd: string) =>
      sh("/usr/sbin/chroot", [part, "sh", "-c", cmd], {
        timeoutMs: 600_000,
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", DEBIAN_FRONTEND: "noninteractive" },
      });
    const copied = sh("cp", ["-a", `${from.root}/.`, part], { timeoutMs: 300_000 });
    const installed =
      copied.status === 0
        ? inPart(
            `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${packages.join(" ")} && apt-get clean`,
          )
        : copied;
    if (installed.status !== 0) {
      rmSync(part, { recursive: true, force: true });
      return {
        why: `apt-get install ${packages.join(" ")} in a copy of ${from.root} failed: ${installed.stderr.trim().split("\n").pop()}`,
      };
    }
    renameSync(part, root);
    return { root };
  });
}

// The checkout's files (tracked and new, not ignored) that exist, but the node_modules links.
function checkoutFiles(): string[] {
  const files = sh("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT })
    .stdout.split("\0")
    .filter(Boolean);
  return files.filter((f) => !LINKED.includes(f) && existsSync(path.join(ROOT, f)));
}

/** Where cachedPackage keeps the packages it built (outside /tmp, so a later run reuses them). */
export const PACKAGE_CACHE = process.env.SECRETFILE_TEST_PACKAGES ?? "/var/cache/secretfile-test/debs";
/** A cached package not used for this long is removed by the next build (each commit makes new ones, ~80 MB). */
const CACHE_HOURS = 6;

/**
 * Returns the path of the package of this checkout as `version`, built (buildPackage, in a copy) the first time and
 * then taken from PACKAGE_CACHE: keyed by the commit and the content of every file but the tests (packaging/runtime/ pins
 * the runtime it carries), so the test files of one run share one build and an edit makes a new one.
 * Test files running at once wait for each other's build (a lock folder). Throws with the build's output.
 */
export function cachedPackage(version: string): string {
  const key = createHash("sha256").update(`${version}\0${commit()}\0`);
  for (const f of checkoutFiles()
    .filter((f) => !f.startsWith("test/"))
    .sort()) {
    const file = path.join(ROOT, f);
    key.update(
      `${f}\0${statSync(file).isFile() ? createHash("sha256").update(readFileSync(file)).digest("hex") : readlinkSync(file)}\0`,
    );
  }
  const dir = path.join(PACKAGE_CACHE, key.digest("hex").slice(0, 24));
  const deb = path.join(dir, `secretfile_${version}.deb`);
  mkdirSync(PACKAGE_CACHE, { recursive: true });
  return withLock(`${dir}.lock`, () => {
    if (existsSync(deb)) {
      utimesSync(dir, new Date(), new Date());
      return deb;
    }
    pruneCache();
    const src = copyCheckout();
    try {
      const built = buildPackage(src, version);
      mkdirSync(dir, { recursive: true });
      cpSync(built, `${deb}.part`);
      renameSync(`${deb}.part`, deb);
      return deb;
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });
}

// Runs `fn` holding the lock folder `lock` (taken over when its holder is dead), waiting for it 10 minutes at most.
function withLock<T>(lock: string, fn: () => T): T {
  const end = Date.now() + 600_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readText(path.join(lock, "pid")));
      if (holder > 0 && !alive(holder)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > end) throw new Error(`${lock} is still held by pid ${holder} after 10 minutes`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  writeFileSync(path.join(lock, "pid"), String(process.pid));
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// Removes the cached packages not used for CACHE_HOURS.
function pruneCache(): void {
  for (const e of readdirSync(PACKAGE_CACHE)) {
    const p = path.join(PACKAGE_CACHE, e);
    if (!e.endsWith(".lock") && Date.now() - statSync(p).mtimeMs > CACHE_HOURS * 3_600_000)
      rmSync(p, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function commit(): string {
  return sh("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).stdout.trim() || "unknown";
}

/** Builds the package in the copy `src` as `version` (gzip, fast); returns the .deb's path. Throws with its output. */
export function buildPackage(src: string, version: string): string {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SECRETFILE_PACKAGE_VERSION: version,
    SECRETFILE_BUILD_COMMIT: commit(),
    SECRETFILE_PACKAGE_COMPRESS: "gzip",
  };
  delete env.NODE_OPTIONS;
  const r = sh(process.execPath, ["build/package.mjs"], { cwd: src, env, timeoutMs: 300_000 });
  if (r.status !== 0) throw new Error(`npm run package failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  const deb = path.join(src, r.stdout.trim().split("\n").pop()!);
  if (!existsSync(deb)) throw new Error(`npm run package printed ${r.stdout.trim()}, which does not exist`);
  return deb;
}

/**
 * Returns a fresh copy of the root `from` (a bookwormRoot) under /var/tmp, /proc mounted, to chroot into; removeRoot
 * undoes it. Throws with the failing command's output.
 */
export function copyRoot(from: string): string {
  const root = mkdtempSync("/var/tmp/secretfile-chroot-");
  for (const [cmd, args] of [
    ["cp", ["-a", `${from}/.`, root]],
    ["mount", ["-t", "proc", "proc", path.join(root, "proc")]],
  ] as const) {
    const r = sh(cmd, [...args], { timeoutMs: 300_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}`);
  }
  return root;
}

/** Kills every process running in the chroot `root`, unmounts its /proc and removes it. Never throws. */
export function removeRoot(root: string): void {
  for (const pid of processesIn(root)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  sh("umount", ["-l", path.join(root, "proc")]);
  rmSync(root, { recursive: true, force: true });
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
