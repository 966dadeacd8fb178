// A real systemd for end-to-end tests: systemd 252 booted as PID 1 of new PID and mount namespaces, driven with
// nsenter, always powered off. Rules: the machine is shared, so the namespace gets its own /tmp, /run, /var/tmp and
// /etc/systemd/system (tmpfs) and a copy-on-write /etc and /var, and /usr when asked (overlay on a tmpfs) BEFORE
// systemd starts (its tmpfiles step empties /tmp, sysusers and setup write /etc, dpkg -i writes /usr and /var/lib/dpkg):
// nothing it does reaches the real machine's files; it
// boots a small target of its own (basic.target), never multi-user.target; every wait has a deadline.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { collect, type Result } from "./cli.js";
import { copyApp } from "./global-setup.js";

/** The systemd binary booted. */
export const SYSTEMD = "/lib/systemd/systemd";
/** Inside the namespace: the folder shared with the test (its host path is Booted.share). */
export const SHARE = "/srv/share";
/** Inside the namespace: the copy of the built CLI's launcher. */
export const APP_BIN = `${SHARE}/app/bin/secretfile`;
/** The target booted: basic.target and nothing of the image's own services. */
export const TEST_TARGET = "secretfile-test.target";

const BOOT_MS = 60_000;
const STEP_MS = 30_000;
const TOOL_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", HOME: "/root" };

// Runs inside `unshare`, as root, before systemd: every mount is private to the namespace (--propagation private).
const BOOT_SCRIPT = `#!/bin/sh
set -eu
T=$1
COPIED=$2
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs "$T/ns"
mount -t tmpfs -o mode=0755 tmpfs /srv
mkdir /srv/share
mount --bind "$T/share" /srv/share
for d in $COPIED; do
  mkdir -p "$T/ns/up/$d" "$T/ns/work/$d"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ns/up/$d,workdir=$T/ns/work/$d" "/$d"
done
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system
# systemd shares / with the units' own namespaces (a LoadCredential= folder is mounted in one and must show in the
# other); the mounts above are already cut off from the machine's, so this makes new peer groups of the namespace only.
mount --make-rshared /
printf '[Unit]\\nDescription=secretfile tests\\nRequires=basic.target\\nAfter=basic.target\\n' > /etc/systemd/system/${TEST_TARGET}
exec ${SYSTEMD} --system --unit=${TEST_TARGET}
`;

/** A booted systemd. */
export interface Booted {
  /** systemd's pid, as the test sees it. */
  pid: number;
  /** The host path of the folder the namespace sees as SHARE (under /var/tmp, never /tmp). */
  share: string;
  /** Runs ARGV inside the namespace as root (30 s deadline unless `timeoutMs`). */
  run(argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<Result>;
  /** Runs `systemctl ARGS` inside; throws when it fails unless `allowFail`. */
  systemctl(args: string[], opts?: { allowFail?: boolean }): Promise<Result>;
  /** Writes FILE inside the namespace (root-owned, `mode`, default 0644). */
  write(file: string, text: string, mode?: number): Promise<void>;
  /** Powers systemd off (SIGKILL after a deadline) and removes the test folder. Safe to call twice. */
  poweroff(): Promise<void>;
}

/** Returns why systemd cannot boot here (shown by skipIf), or undefined when it can. */
export function systemdSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to boot systemd in new PID and mount namespaces";
  if (!existsSync(SYSTEMD)) return `${SYSTEMD} is not installed`;
  const probe = spawnSync(
    "unshare",
    ["--fork", "--pid", "--mount", "--mount-proc", "--propagation", "private", "true"],
    { encoding: "utf8", timeout: 10_000 },
  );
  if (probe.status !== 0)
    return `unshare cannot make PID and mount namespaces here: ${(probe.stderr || probe.error?.message || "").trim()}`;
  return undefined;
}

/** How to boot. */
export interface BootOptions {
  /** Also make /usr copy-on-write (with merged /usr, /lib, /bin and /sbin too), for `dpkg -i` inside. */
  copyUsr?: boolean;
}

/**
 * Boots systemd, waits (60 s at most) until `systemctl is-system-running` says running, and returns it with a copy
 * of the built CLI at APP_BIN. Throws (after powering it off) when it does not get there, or when `copyUsr` is asked on
 * a host whose /lib is not a link into /usr (dpkg would write the machine's /lib).
 */
export async function bootSystemd(opts: BootOptions = {}): Promise<Booted> {
  if (opts.copyUsr === true) {
    for (const d of ["/lib", "/bin", "/sbin"])
      if (!lstatSync(d).isSymbolicLink())
        throw new Error(`${d} is not a link into /usr: copyUsr would leave it shared with the machine`);
  }
  const root = mkdtempSync("/var/tmp/secretfile-systemd-");
  chmodSync(root, 0o755);
  const share = path.join(root, "share");
  mkdirSync(path.join(root, "ns"));
  mkdirSync(share, { mode: 0o755 });
  copyApp(path.join(share, "app"));
  const script = path.join(root, "boot.sh");
  writeFileSync(script, BOOT_SCRIPT, { mode: 0o755 });
  // /var last: the test folder is under /var/tmp, out of sight once /var is an overlay.
  const copied = opts.copyUsr === true ? "etc usr var" : "etc var";
  const child = spawn(
    "unshare",
    ["--fork", "--pid", "--mount", "--mount-proc", "--propagation", "private", script, root, copied],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: TOOL_ENV,
    },
  );
  let bootErr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (bootErr += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // If the test process dies, the namespace must not outlive it.
  const killOnExit = () => killNamespace(child);
  process.once("exit", killOnExit);
  let pid = -1;
  let off = false;
  const booted: Booted = {
    get pid() {
      return pid;
    },
    share,
    run: (argv, opts = {}) => {
      const c = spawn("nsenter", ["-t", String(pid), "-m", "-p", "--", ...argv], {
        env: TOOL_ENV,
        cwd: "/",
        stdio: ["pipe", "pipe", "pipe"],
      });
      return collect(c, opts.input, opts.timeoutMs ?? STEP_MS);
    },
    systemctl: async (args, opts = {}) => {
      const r = await booted.run(["systemctl", "--no-pager", ...args]);
      if (r.code !== 0 && opts.allowFail !== true)
        throw new Error(`systemctl ${args.join(" ")} failed (${r.code ?? r.signal}): ${r.stderr || r.stdout}`);
      return r;
    },
    write: async (file, text, mode = 0o644) => {
      const r = await booted.run(
        ["sh", "-c", 'umask 077 && cat > "$1" && chmod "$2" "$1"', "sh", file, mode.toString(8)],
        { input: text },
      );
      if (r.code !== 0) throw new Error(`cannot write ${file} inside the namespace: ${r.stderr}`);
    },
    poweroff: async () => {
      if (off) return;
      off = true;
      if (pid > 0 && child.exitCode === null)
        await booted.run(["systemctl", "poweroff"], { timeoutMs: 10_000 }).catch(() => undefined);
      const deadline = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), STEP_MS).unref());
      if ((await Promise.race([exited, deadline])) === "late") {
        killNamespace(child);
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      }
      process.removeListener("exit", killOnExit);
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    pid = await systemdPid(child, () => bootErr);
    await waitRunning(booted, () => bootErr);
  } catch (err) {
    await booted.poweroff();
    throw err;
  }
  return booted;
}

// The pid of systemd: unshare's one child (it forked, then the boot script exec'd systemd).
async function systemdPid(child: ChildProcess, bootErr: () => string): Promise<number> {
  const end = Date.now() + BOOT_MS;
  while (Date.now() < end) {
    if (child.exitCode !== null)
      throw new Error(`the namespace exited (${child.exitCode}) before systemd started: ${bootErr().trim()}`);
    const first = children(child)[0];
    if (first !== undefined && readProc(`/proc/${first}/comm`).trim() === "systemd") return first;
    await sleep(100);
  }
  throw new Error("systemd did not start within 60 s");
}

async function waitRunning(b: Booted, bootErr: () => string): Promise<void> {
  const end = Date.now() + BOOT_MS;
  let state = "";
  while (Date.now() < end) {
    state = (await b.run(["systemctl", "is-system-running"], { timeoutMs: 5_000 })).stdout.trim();
    if (state === "running") return;
    if (state === "degraded") {
      const failed = await b.run(["systemctl", "--no-pager", "--failed", "--plain", "--no-legend"]);
      throw new Error(`systemd booted degraded: ${failed.stdout.trim()}`);
    }
    await sleep(200);
  }
  throw new Error(`systemd did not reach running within 60 s (last state ${JSON.stringify(state)}): ${bootErr()}`);
}

// SIGKILL to a namespace's PID 1 kills every process in it; unshare then exits.
function killNamespace(child: ChildProcess): void {
  for (const k of children(child)) {
    try {
      process.kill(k, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (child.exitCode === null) child.kill("SIGKILL");
}

function children(child: ChildProcess): number[] {
  return readProc(`/proc/${child.pid}/task/${child.pid}/children`).split(/\s+/).filter(Boolean).map(Number);
}

function readProc(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
