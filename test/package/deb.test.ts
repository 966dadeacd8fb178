// The Debian package on a fresh Debian 12 root without Node: install, personal mode, man page, the agent through the
// init script for a locked-down job user (and a refusal), setup run again, an upgrade keeping store, identity, policy
// and audit chain while a job and a loop of requests run, then remove and purge leaving what the docs say. One file,
// steps in sequence, each with a deadline.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pinnedRuntime } from "../../build/runtime.mjs";
import { isRoot } from "../helpers/cli.js";
import {
  BOOKWORM_CACHE,
  bookwormRoot,
  copyRoot,
  cachedPackage,
  has,
  processesIn,
  removeRoot,
  sh,
  UPGRADE,
  VERSION,
} from "./support.js";

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
const why = !isRoot
  ? "not root (dpkg, chroot and useradd need it)"
  : !has("dpkg-deb")
    ? "dpkg-deb is not installed"
    : !has("cc")
      ? "no C compiler: the package needs the prebuilt native addon"
      : !existsSync(path.join(BOOKWORM_CACHE, "usr/bin/apt")) && !has("debootstrap")
        ? `no Debian 12 root at ${BOOKWORM_CACHE}, and debootstrap is not installed to make one`
        : undefined;
if (why !== undefined) console.warn(`test/package/deb.test.ts skipped: ${why}`);

describe.skipIf(why !== undefined)("the Debian package in a fresh Debian 12 root", { concurrent: false }, () => {
  let root = "";
  const debs: Record<string, string> = {};
  let rootWhy: string | undefined;
  const inRoot = (cmd: string[], timeoutMs = 60_000, input?: string) =>
    sh("/usr/sbin/chroot", [root, ...cmd], { timeoutMs, input });
  const ok = (r: ReturnType<typeof sh>) => {
    expect({ status: r.status, stderr: r.status === 0 ? "" : r.stderr.slice(-1500) }).toEqual({
      status: 0,
      stderr: "",
    });
    return r.stdout;
  };
  const sha = (file: string) =>
    createHash("sha256")
      .update(readFileSync(path.join(root, file)))
      .digest("hex");

  beforeAll(() => {
    // CI's first run makes it (debootstrap), kept outside /tmp for the next runs.
    const made = bookwormRoot();
    debs.first = cachedPackage(VERSION);
    debs.upgrade = cachedPackage(UPGRADE);
    if ("why" in made) {
      rootWhy = made.why;
      return;
    }
    root = copyRoot(made.root);
    for (const [name, deb] of Object.entries(debs)) copyFileSync(deb, path.join(root, `root/${name}.deb`));
  }, 900_000);

  afterAll(() => {
    if (root !== "") removeRoot(root);
  }, 120_000);

  it("installs offline with apt, with no Node on the host, and prints its version and commit", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    expect(inRoot(["sh", "-c", "command -v node"]).status).not.toBe(0);
    const installed = inRoot(
      ["apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Use-Pty=0", "/root/first.deb"],
      300_000,
    );
    ok(installed);
    // No init system in a chroot: postinst started the agent with the init script, and says so as its last line.
    expect(installed.stderr.trim().split("\n").pop()).toBe("secretfile: the agent runs (`service secretfile status`)");
    expect(installed.stderr).not.toMatch(/invoke-rc\.d|service secretfile start/);
    expect(ok(inRoot(["secretfile", "--version"]))).toMatch(
      new RegExp(`^${VERSION.replaceAll(".", "\\.")} \\(commit ([0-9a-f]+|unknown)\\)\\n$`),
    );
    // What Debian expects where: the launcher, the private runtime, units, init script, man pages, docs.
    for (const f of [
      "usr/lib/secretfile/node",
      "lib/systemd/system/secretfile.socket",
      "lib/systemd/system/secretfile.service",
      "etc/init.d/secretfile",
      "usr/share/man/man1/secretfile.1.gz",
      "usr/share/man/man5/secretfile-policy.5.gz",
      "usr/share/doc/secretfile/copyright",
      "usr/share/doc/secretfile/examples/crontab",
      "usr/share/bash-completion/completions/secretfile",
    ]) {
      expect(existsSync(path.join(root, f)), f).toBe(true);
    }
  });

  it("works in personal mode: init, add, exec", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    ok(inRoot(["secretfile", "init", "--dir", "/root/personal"]));
    ok(inRoot(["secretfile", "add", "--dir", "/root/personal", "DEMO_KEY"], 60_000, "demo-value\n"));
    expect(ok(inRoot(["secretfile", "exec", "--dir", "/root/personal", "--", "sh", "-c", 'echo "${#DEMO_KEY}"']))).toBe(
      "10\n",
    );
  });

  it("runs on the pinned runtime, which doctor calls supported, with the code caches that runtime made", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    const pin = pinnedRuntime();
    expect(sha("usr/lib/secretfile/node")).toBe(pin.sha256);
    const debug = inRoot(["env", "SECRETFILE_DEBUG=1", "secretfile", "--version"]);
    expect([debug.status, debug.stderr]).toEqual([0, "secretfile: code cache used (secretfile.cjs.cache)\n"]);
    const doctor = ok(inRoot(["secretfile", "doctor", "--dir", "/root/personal"]));
    expect(doctor).toMatch(
      new RegExp(
        `^ok {3}the runtime: Node\\.js v${pin.version.replaceAll(".", "\\.")} \\(/usr/lib/secretfile/node\\): release line \\d+, supported until \\d{4}-\\d{2}-\\d{2}$`,
        "m",
      ),
    );
    // The agent's units and init script start node with --disable-sigusr1, the CLI's #! line does not: under it node
    // blocks SIGUSR1, which `exec` passes on to its job.
    expect(readFileSync(path.join(root, "lib/systemd/system/secretfile.service"), "utf8")).toMatch(
      /^ExecStart=\/usr\/lib\/secretfile\/node [^\n]*--disable-sigusr1 \/usr\/lib\/secretfile\/bin\/secretfile agent /m,
    );
    expect(readFileSync(path.join(root, "usr/lib/secretfile/bin/secretfile"), "utf8").split("\n")[0]).toBe(
      "#!/usr/lib/secretfile/node --",
    );
    const job =
      "trap 'kill $s; echo USR1; exit 0' USR1; sleep 20 >/dev/null 2>&1 & s=$!; kill -USR1 $PPID; wait; exit 3";
    expect(ok(inRoot(["secretfile", "exec", "--dir", "/root/personal", "--", "sh", "-c", job]))).toBe("USR1\n");
  });

  it("has man pages that render without warnings (with the host's man -l: man-db is not in minbase)", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    if (!has("man")) ctx.skip("man is not installed on the host");
    for (const [page, words] of [
      ["man1/secretfile.1.gz", ["SECRETFILE(1)", "EXIT STATUS", "recipients add", "/etc/init.d/secretfile"]],
      ["man5/secretfile-policy.5.gz", ["SECRETFILE-POLICY(5)", "user:NAME"]],
    ] as const) {
      const r = sh("man", ["--warnings", "-l", path.join(root, "usr/share/man", page)], {
        env: { PATH: "/usr/bin:/bin", LC_ALL: "C.UTF-8", MANWIDTH: "100", MAN_KEEP_FORMATTING: "" },
      });
      expect(r.stderr).toBe("");
      for (const w of words) expect(r.stdout).toContain(w);
    }
  });

  it("postinst set the host up; setup run again changes nothing", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    const before = ["var/lib/secretfile/identity.txt", "var/lib/secretfile/store.age", "etc/secretfile/policy"].map(
      sha,
    );
    // Without --units-dir: the package's CLI keeps the package's units, and writes none under /etc/systemd/system.
    const again = inRoot(["secretfile", "setup"]);
    ok(again);
    expect(again.stderr).not.toMatch(/created|updated|fixed/);
    expect(
      ["var/lib/secretfile/identity.txt", "var/lib/secretfile/store.age", "etc/secretfile/policy"].map(sha),
    ).toEqual(before);
    expect(again.stderr).toContain("service secretfile start");
    expect(existsSync(path.join(root, "etc/systemd/system/secretfile.service"))).toBe(false);
  });

  it("runs the agent through the init script: a locked-down job user gets its key, another user is refused", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    // postinst started it; a start of a running agent changes nothing.
    ok(inRoot(["service", "secretfile", "status"]));
    const pid = readFileSync(path.join(root, "run/secretfile.pid"), "utf8").trim();
    ok(inRoot(["service", "secretfile", "start"], 60_000));
    expect(readFileSync(path.join(root, "run/secretfile.pid"), "utf8").trim()).toBe(pid);
    ok(inRoot(["useradd", "--system", "--shell", "/usr/sbin/nologin", "--no-create-home", "sfjob"]));
    ok(inRoot(["useradd", "--system", "--shell", "/usr/sbin/nologin", "--no-create-home", "sfother"]));
    ok(inRoot(["sh", "-c", "printf 'read user:sfjob API_KEY\\n' >> /etc/secretfile/policy"]));
    ok(inRoot(["secretfile", "add", "API_KEY"], 60_000, "the-job-key\n"));
    // As cron runs it: the job user, cron's PATH, secretfile's full path.
    const job = [
      "env",
      "-i",
      "PATH=/usr/bin:/bin",
      "/usr/bin/secretfile",
      "exec",
      "--",
      "sh",
      "-c",
      'echo "got ${#API_KEY}"',
    ];
    expect(ok(inRoot(["setpriv", "--reuid=sfjob", "--regid=sfjob", "--init-groups", ...job]))).toBe("got 11\n");
    const other = inRoot([
      "setpriv",
      "--reuid=sfother",
      "--regid=sfother",
      "--init-groups",
      "env",
      "-i",
      "PATH=/usr/bin:/bin",
      "/usr/bin/secretfile",
      "get",
      "API_KEY",
    ]);
    expect({ status: other.status, stdout: other.stdout }).toEqual({ status: 4, stdout: "" });
    // The service account's links in its own folders, at the names an init script could use, change nothing of root's.
    const svc = ["setpriv", "--reuid=secretfile", "--regid=secretfile", "--init-groups"];
    for (const link of ["/var/log/secretfile/agent.log", "/run/secretfile/agent.pid"])
      ok(inRoot([...svc, "ln", "-s", "/etc/ld.so.preload", link]));
    ok(inRoot(["service", "secretfile", "restart"], 60_000));
    ok(inRoot(["service", "secretfile", "status"]));
    expect(existsSync(path.join(root, "etc/ld.so.preload"))).toBe(false);
    expect(ok(inRoot(["stat", "-c", "%U %a", "/var/log/secretfile-agent.log", "/run/secretfile.pid"]))).toMatch(
      /^root 6[40]0\nroot 6[40]0\n$/,
    );
    expect(ok(inRoot(["cat", "/var/log/secretfile-agent.log"]))).toMatch(/continues from sha256 [0-9a-f]{64}/);
    expect(ok(inRoot(["setpriv", "--reuid=sfjob", "--regid=sfjob", "--init-groups", ...job]))).toBe("got 11\n");
  });

  it("upgrades over the older package: store, identity, policy and audit chain kept, the agent restarted, a running job and requests unbroken", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    const kept = ["var/lib/secretfile/identity.txt", "var/lib/secretfile/store.age", "etc/secretfile/policy"];
    const before = kept.map(sha);
    const pid = readFileSync(path.join(root, "run/secretfile.pid"), "utf8").trim();
    // While it upgrades: a job that read its key before and uses it after, and a request every 100 ms (both as sfjob).
    const asJob = `setpriv --reuid=sfjob --regid=sfjob --init-groups env -i PATH=/usr/bin:/bin`;
    const during = [
      `${asJob} /usr/bin/secretfile exec -- sh -c 'while [ ! -e /tmp/upgrade-done ]; do sleep 0.2; done; printf %s "$API_KEY" | sha256sum' > /root/job.out 2>&1; echo $? > /root/job.rc`,
      `while [ ! -e /tmp/upgrade-done ]; do if v=$(${asJob} /usr/bin/secretfile get API_KEY 2>/root/loop.err); then echo "ok $v"; else echo "fail $? $(head -c 300 /root/loop.err)"; fi; sleep 0.1; done > /root/loop.out; echo done > /root/loop.rc`,
    ].map((script) =>
      spawn("/usr/sbin/chroot", [root, "sh", "-c", script], {
        stdio: "ignore",
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
      }),
    );
    pause(1_500);
    const upgraded = inRoot(
      ["apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Use-Pty=0", "/root/upgrade.deb"],
      300_000,
    );
    ok(upgraded);
    expect(ok(inRoot(["secretfile", "--version"]))).toMatch(
      new RegExp(`^${UPGRADE.replaceAll(".", "\\.").replace("+", "\\+")} `),
    );
    expect(kept.map(sha)).toEqual(before);
    // No init system here (no /sbin/init, no policy-rc.d): postinst restarted the running agent itself, and says so last.
    expect(readFileSync(path.join(root, "run/secretfile.pid"), "utf8").trim()).not.toBe(pid);
    expect(upgraded.stderr.trim().split("\n").pop()).toBe("secretfile: the agent runs (`service secretfile status`)");
    expect(upgraded.stderr).not.toContain("invoke-rc.d");
    pause(1_000);
    ok(inRoot(["touch", "/tmp/upgrade-done"]));
    for (const rc of ["root/job.rc", "root/loop.rc"]) {
      const end = Date.now() + 30_000;
      while (!existsSync(path.join(root, rc)) && Date.now() < end) pause(100);
    }
    for (const c of during) c.kill("SIGKILL");
    const out = (f: string) => readFileSync(path.join(root, f), "utf8");
    expect({ rc: out("root/job.rc"), out: out("root/job.out") }).toEqual({
      rc: "0\n",
      out: sh("sha256sum", [], { input: "the-job-key" }).stdout,
    });
    // The init script's restart leaves no socket for a moment (the old agent removes it, the new one binds it): the
    // client tries again for up to 5 s, so no request fails.
    const lines = out("root/loop.out").trim().split("\n");
    console.info(
      `test/package/deb.test.ts: ${lines.length} requests during the upgrade and restart, ${lines.filter((l) => l !== "ok the-job-key").length} not answered with the key`,
    );
    expect(lines.filter((l) => l !== "ok the-job-key")).toEqual([]);
    expect(lines.length).toBeGreaterThan(10);
    const job = [
      "setpriv",
      "--reuid=sfjob",
      "--regid=sfjob",
      "--init-groups",
      "env",
      "-i",
      "PATH=/usr/bin:/bin",
      "/usr/bin/secretfile",
      "get",
      "API_KEY",
    ];
    expect(ok(inRoot(job))).toBe("the-job-key");
    ok(inRoot(["secretfile", "audit", "verify"]));
  });

  it("a policy-rc.d that forbids starting services is obeyed: the agent is not restarted, and the last line says how", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    const pid = readFileSync(path.join(root, "run/secretfile.pid"), "utf8").trim();
    ok(
      inRoot([
        "sh",
        "-c",
        "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d",
      ]),
    );
    try {
      const again = inRoot(
        ["apt-get", "install", "-y", "--reinstall", "-o", "Dpkg::Use-Pty=0", "/root/upgrade.deb"],
        300_000,
      );
      ok(again);
      expect(again.stderr.trim().split("\n").pop()).toBe(
        "secretfile: policy-rc.d forbids starting services here, so the agent was not restarted: run `service secretfile restart` when it may",
      );
      expect(readFileSync(path.join(root, "run/secretfile.pid"), "utf8").trim()).toBe(pid);
    } finally {
      ok(inRoot(["rm", "-f", "/usr/sbin/policy-rc.d"]));
    }
  });

  it("remove stops the agent and keeps the configuration; purge keeps only the state, the audit log and the account", (ctx) => {
    if (rootWhy !== undefined) ctx.skip(rootWhy);
    ok(inRoot(["apt-get", "remove", "-y", "-o", "Dpkg::Use-Pty=0", "secretfile"], 120_000));
    expect(processesIn(root).filter((p) => cmdline(p).includes("secretfile agent"))).toEqual([]);
    expect(existsSync(path.join(root, "usr/lib/secretfile"))).toBe(false);
    expect(existsSync(path.join(root, "etc/secretfile/policy"))).toBe(true);
    const purged = inRoot(["dpkg", "--purge", "secretfile"], 120_000);
    ok(purged);
    expect(purged.stderr).toContain("kept /var/lib/secretfile");
    expect(purged.stderr).toContain("rm -rf /var/lib/secretfile /var/log/secretfile && userdel secretfile");
    for (const gone of [
      "etc/secretfile",
      "etc/init.d/secretfile",
      "etc/default/secretfile",
      "run/secretfile",
      "var/log/secretfile-agent.log",
      "run/secretfile.pid",
      "usr/bin/secretfile",
    ]) {
      expect(existsSync(path.join(root, gone)), gone).toBe(false);
    }
    for (const left of [
      "var/lib/secretfile/identity.txt",
      "var/lib/secretfile/store.age",
      "var/log/secretfile/audit.log",
    ]) {
      expect(existsSync(path.join(root, left)), left).toBe(true);
    }
    expect(inRoot(["getent", "passwd", "secretfile"]).status).toBe(0);
  });
});
