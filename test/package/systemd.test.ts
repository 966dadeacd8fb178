// The Debian package under a real systemd 252 (test/helpers/systemd.ts, with /usr copy-on-write too): dpkg -i, socket
// activation, a job user's key through a transient unit and another user refused, systemctl reload, an upgrade while a
// job and a loop of requests run, dpkg -r; then nothing of it on the machine. Steps in sequence, each with a deadline.
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Result } from "../helpers/cli.js";
import { bootSystemd, SHARE, systemdSkipReason, type Booted } from "../helpers/systemd.js";
import { cachedPackage, has, sh, UPGRADE, VERSION } from "./support.js";

const why =
  systemdSkipReason() ??
  (!has("dpkg-deb")
    ? "dpkg-deb is not installed"
    : !has("cc")
      ? "no C compiler: the package needs the prebuilt native addon"
      : undefined);
if (why !== undefined) console.warn(`test/package/systemd.test.ts skipped: ${why}`);

const KEY = `key-${randomBytes(12).toString("hex")}`;
const POLICY = "/etc/secretfile/policy";
const AUDIT = "/var/log/secretfile/audit.log";
const SF = "/usr/bin/secretfile";

/** What the package would put on the machine if dpkg -i escaped the namespace. */
function hostTraces(): string[] {
  const units = readdirSync("/lib/systemd/system").filter((f) => f.startsWith("secretfile"));
  const files = [
    "/usr/bin/secretfile",
    "/usr/lib/secretfile",
    "/etc/init.d/secretfile",
    "/usr/share/man/man1/secretfile.1.gz",
  ].filter((f) => existsSync(f));
  const dpkg = sh("dpkg-query", ["-W", "secretfile"]).status === 0 ? ["dpkg: secretfile installed"] : [];
  return [...files, ...units.map((u) => `/lib/systemd/system/${u}`), ...dpkg];
}

describe.skipIf(why !== undefined)(
  `the Debian package under a real systemd${why === undefined ? "" : ` (skipped: ${why})`}`,
  { concurrent: false },
  () => {
    let sd: Booted;
    let before: string[] = [];
    const job = `sfj${randomBytes(4).toString("hex")}`;
    const other = `sfo${randomBytes(4).toString("hex")}`;
    const ok = (r: Result) => {
      expect({ code: r.code, stderr: r.code === 0 ? "" : r.stderr.slice(-1500) }).toEqual({ code: 0, stderr: "" });
      return r.stdout;
    };
    // ARGV as USER in a transient unit, as a .service job would run it; its output piped back, its exit status returned.
    // systemd expands $NAME and ${NAME} in a unit's command line, as in ExecStart=: a shell's $ is written $$.
    const asUser = (user: string, argv: string[], timeoutMs = 30_000) =>
      sd.run(["systemd-run", "--wait", "--pipe", "--quiet", "-p", `User=${user}`, "--", ...argv], { timeoutMs });
    const state = async (unit: string) => (await sd.systemctl(["is-active", unit], { allowFail: true })).stdout.trim();
    const agentPid = async () =>
      Number((await sd.systemctl(["show", "-P", "MainPID", "secretfile.service"])).stdout.trim());
    const reloads = async () =>
      Number((await sd.run(["sh", "-c", `grep -c '"policy-reload".*SIGHUP' ${AUDIT} || true`])).stdout.trim());
    // systemctl reload returns once the signal is sent: the agent's record of it follows (10 s at most).
    const reloaded = async (count: number) => {
      const end = Date.now() + 10_000;
      while ((await reloads()) < count && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await reloads()).toBe(count);
    };

    beforeAll(async () => {
      before = hostTraces();
      const debs = { first: cachedPackage(VERSION), upgrade: cachedPackage(UPGRADE) };
      sd = await bootSystemd({ copyUsr: true });
      for (const [name, deb] of Object.entries(debs)) copyFileSync(deb, path.join(sd.share, `${name}.deb`));
      for (const u of [job, other])
        ok(await sd.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", "-U", u]));
    }, 900_000);

    afterAll(async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- sd is unset when beforeAll failed or was skipped
      await sd?.poweroff();
    }, 60_000);

    it("dpkg -i sets the host up and starts only the socket: the agent starts at the first connection", async () => {
      expect(before).toEqual([]);
      const r = await sd.run(["dpkg", "-i", `${SHARE}/first.deb`], { timeoutMs: 180_000 });
      ok(r);
      expect(ok(await sd.run([SF, "--version"]))).toMatch(new RegExp(`^${VERSION.replaceAll(".", "\\.")} `));
      expect(await state("secretfile.socket")).toBe("active");
      expect(await state("secretfile.service")).toBe("inactive");
      expect((await sd.systemctl(["is-enabled", "secretfile.socket"], { allowFail: true })).stdout.trim()).toBe(
        "enabled",
      );
      // The units are the package's own, at Debian's place, and systemd runs the packaged launcher.
      expect((await sd.systemctl(["show", "-P", "FragmentPath", "secretfile.service"])).stdout.trim()).toBe(
        "/lib/systemd/system/secretfile.service",
      );
      expect((await sd.systemctl(["show", "-P", "ExecStart", "secretfile.service"])).stdout).toContain(
        "/usr/lib/secretfile/node",
      );
      // dpkg's writes stayed in the namespace.
      expect(hostTraces()).toEqual([]);
    });

    it("a job user allowed by the policy gets its key from the socket-activated agent; another user is refused (4)", async () => {
      ok(await sd.run([SF, "add", "K"], { input: `${KEY}\n` }));
      await sd.write(POLICY, `read user:${job} K\n`);
      const got = await asUser(job, [SF, "get", "K"]);
      expect({ code: got.code, stdout: got.stdout }).toEqual({ code: 0, stdout: KEY });
      expect(await state("secretfile.service")).toBe("active");
      const refused = await asUser(other, [SF, "get", "K"]);
      expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 4, stdout: "" });
      const exec = await asUser(job, [SF, "exec", "--", "sh", "-c", 'echo "$${#K}"']);
      expect({ code: exec.code, stdout: exec.stdout }).toEqual({ code: 0, stdout: `${KEY.length}\n` });
    });

    it("systemctl reload secretfile reads the policy again (SIGHUP, same agent)", async () => {
      const pid = await agentPid();
      const seen = await reloads();
      await sd.write(POLICY, `read user:${other} K\n`);
      await sd.systemctl(["reload", "secretfile.service"]);
      await reloaded(seen + 1);
      expect((await asUser(job, [SF, "get", "K"])).code).toBe(4);
      expect((await asUser(other, [SF, "get", "K"])).stdout).toBe(KEY);
      await sd.write(POLICY, `read user:${job} K\n`);
      await sd.systemctl(["reload", "secretfile.service"]);
      await reloaded(seen + 2);
      expect((await asUser(job, [SF, "get", "K"])).stdout).toBe(KEY);
      expect(await agentPid()).toBe(pid);
    });

    it("an upgrade restarts the agent while a job and a loop of requests run: the job gets its key, no request fails", async () => {
      const pid = await agentPid();
      // A job that read its key before the upgrade and uses it after (when the flag file appears); its status is exec's.
      const longJob = asUser(
        job,
        [
          SF,
          "exec",
          "--",
          "sh",
          "-c",
          'while [ ! -e /run/upgrade-done ]; do sleep 0.2; done; printf %s "$$K" | sha256sum',
        ],
        240_000,
      );
      // Requests every 100 ms until the flag file appears: each one's exit status, and the stderr of those that failed.
      const loop = asUser(
        job,
        [
          "sh",
          "-c",
          `while [ ! -e /run/upgrade-done ]; do if v=$(${SF} get K 2>/tmp/loop.err); then echo "ok $$v"; else echo "fail $$? $$(head -c 300 /tmp/loop.err)"; fi; sleep 0.1; done`,
        ],
        240_000,
      );
      // The job and the loop under way before dpkg starts.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const up = await sd.run(["dpkg", "-i", `${SHARE}/upgrade.deb`], { timeoutMs: 180_000 });
      // A few more requests against the new agent before the loop stops.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      ok(await sd.run(["touch", "/run/upgrade-done"]));
      const [j, l] = await Promise.all([longJob, loop]);
      ok(up);
      const sha = sh("sha256sum", [], { input: KEY }).stdout;
      expect({ code: j.code, stdout: j.stdout, stderr: j.stderr }).toEqual({ code: 0, stdout: sha, stderr: "" });
      expect(l.code, l.stderr).toBe(0);
      const lines = l.stdout.trim().split("\n");
      const failed = lines.filter((x) => x !== `ok ${KEY}`);
      console.info(
        `test/package/systemd.test.ts: ${lines.length} requests during the upgrade, ${failed.length} not answered with the key`,
      );
      expect(failed).toEqual([]);
      expect(lines.length).toBeGreaterThan(10);
      // The new code serves: a new agent, the new version.
      expect(await agentPid()).not.toBe(pid);
      expect(ok(await sd.run([SF, "--version"]))).toMatch(
        new RegExp(`^${UPGRADE.replaceAll(".", "\\.").replace("+", "\\+")} `),
      );
      expect(await state("secretfile.socket")).toBe("active");
      ok(await sd.run([SF, "audit", "verify"]));
    });

    it("dpkg -r stops the socket and the agent and keeps the configuration", async () => {
      ok(await sd.run(["dpkg", "-r", "secretfile"], { timeoutMs: 120_000 }));
      expect(await state("secretfile.socket")).toBe("inactive");
      expect(await state("secretfile.service")).toBe("inactive");
      expect((await sd.run(["pgrep", "-f", "secretfile agent"])).stdout).toBe("");
      expect((await sd.run(["test", "-e", SF])).code).toBe(1);
      expect((await sd.run(["test", "-e", "/run/secretfile/agent.sock"])).code).toBe(1);
      expect((await sd.run(["test", "-f", POLICY])).code).toBe(0);
    });

    it("powers off, and nothing of the package reached the machine: files, units, dpkg's database", async () => {
      await sd.poweroff();
      expect(hostTraces()).toEqual(before);
    }, 60_000);
  },
);
