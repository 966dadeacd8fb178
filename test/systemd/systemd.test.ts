// secretfile under a real systemd 252 (PID 1 of its own namespaces, test/helpers/systemd.ts): setup with the real
// default paths inside the namespace, socket activation, the unit's sandbox, sealed identity, timers, Restart=.
// The tests run in order and share one boot; each step builds on the one before.

import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_BIN, bootSystemd, systemdSkipReason, type Booted } from "../helpers/systemd.js";

const skip = systemdSkipReason();
const NODE = "/usr/bin/node";
const KEY = `key-${randomBytes(12).toString("hex")}`;
const POLICY = "/etc/secretfile/policy";

describe.skipIf(skip !== undefined)(
  `under a real systemd${skip === undefined ? "" : ` (skipped: ${skip})`}`,
  { concurrent: false },
  () => {
    let sd: Booted;
    const marker = `/tmp/secretfile-systemd-marker-${randomBytes(6).toString("hex")}`;
    let job = "";
    const cli = (args: string[], input?: string) => sd.run([NODE, APP_BIN, ...args], { input });
    const asJob = (argv: string[]) => sd.run(["runuser", "-u", job, "--", ...argv]);
    const agentPid = async () =>
      Number((await sd.systemctl(["show", "-P", "MainPID", "secretfile.service"])).stdout.trim());
    const policy = (lines: string[]) => sd.write(POLICY, `${lines.join("\n")}\n`, 0o644);
    // Waits for `check` to hold, 30 s at most.
    const until = async (check: () => Promise<boolean>) => {
      const end = Date.now() + 30_000;
      while (!(await check())) {
        if (Date.now() > end) throw new Error("timed out waiting");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };

    beforeAll(async () => {
      writeFileSync(marker, "must survive systemd's tmpfiles\n");
      sd = await bootSystemd();
      job = `sfj${randomBytes(4).toString("hex")}`;
      const made = await sd.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", "-U", job]);
      expect(made.code, made.stderr).toBe(0);
    }, 120_000);

    afterAll(async () => {
      // Unset when beforeAll failed or was skipped.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
      await sd?.poweroff();
      rmSync(marker, { force: true });
    }, 60_000);

    it("boots without touching the machine: /tmp, /run, /etc and /var outside the namespace are left alone", async () => {
      expect((await sd.run(["systemctl", "is-system-running"])).stdout.trim()).toBe("running");
      // systemd-tmpfiles ran at boot ("D /tmp"): inside, /tmp is a fresh tmpfs; outside, the marker is still there.
      expect(readFileSync(marker, "utf8")).toBe("must survive systemd's tmpfiles\n");
      expect((await sd.run(["test", "-e", marker])).code).toBe(1);
      expect(existsSync("/run/systemd/system")).toBe(false);
      expect((await sd.run(["test", "-d", "/run/systemd/system"])).code).toBe(0);
      // The job user exists inside only (/etc is copy-on-write there).
      expect(readFileSync("/etc/passwd", "utf8")).not.toContain(`${job}:`);
      // Nothing of the image's own services: only the target's units.
      const services = (
        await sd.systemctl(["list-units", "--type=service", "--state=running", "--plain", "--no-legend"])
      ).stdout;
      expect(services).not.toMatch(/postgresql|exim|cron/);
    });

    it("setup with the default paths installs the units; the socket starts the agent on the first connection", async () => {
      const r = await cli(["setup"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain("ran systemctl enable --now secretfile.socket");
      expect((await sd.systemctl(["is-active", "secretfile.socket"])).stdout.trim()).toBe("active");
      expect((await sd.systemctl(["is-active", "secretfile.service"], { allowFail: true })).stdout.trim()).toBe(
        "inactive",
      );
      // The outside machine has none of it.
      for (const f of [
        "/etc/secretfile",
        "/var/lib/secretfile",
        "/var/log/secretfile",
        "/etc/systemd/system/secretfile.service",
      ])
        expect(existsSync(f)).toBe(false);
      const added = await cli(["add", "ACME_KEY"], KEY);
      expect(added.code, added.stderr).toBe(0);
      expect((await sd.systemctl(["is-active", "secretfile.service"])).stdout.trim()).toBe("active");
      expect(await agentPid()).toBeGreaterThan(1);
    });

    it("the unit's sandbox holds for real: read-only outside ReadWritePaths, no AF_INET, no capabilities, seccomp on", async () => {
      const pid = await agentPid();
      // The running agent itself, from the kernel's point of view.
      const status = (await sd.run(["cat", `/proc/${pid}/status`])).stdout;
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(status).toMatch(/^Seccomp:\s+2$/m);
      expect(status).toMatch(/^CapEff:\s+0+$/m);
      // Its own mount namespace: / is read-only there (ProtectSystem=strict) but its state folder is not.
      const ro = await sd.run(["nsenter", "-t", String(pid), "-m", "--", "touch", "/etc/secretfile/planted"]);
      expect(ro.stderr).toContain("Read-only file system");
      const svc = (await sd.run(["id", "-u", "secretfile"])).stdout.trim();
      const rw = await sd.run([
        "nsenter",
        "-t",
        String(pid),
        "-m",
        "-S",
        svc,
        "-G",
        svc,
        "--",
        "touch",
        "/var/lib/secretfile/.probe",
      ]);
      expect(rw.code, rw.stderr).toBe(0);
      await sd.run(["rm", "-f", "/var/lib/secretfile/.probe"]);
      // Its own network namespace: loopback only (PrivateNetwork=yes).
      const links = await sd.run(["nsenter", "-t", String(pid), "-n", "--", "cat", "/proc/self/net/dev"]);
      expect(
        links.stdout
          .split("\n")
          .slice(2)
          .filter(Boolean)
          .map((l) => l.trim().split(":")[0]),
      ).toEqual(["lo"]);
      // What seccomp forbids cannot be entered with nsenter: run a probe under the unit's own [Service] settings.
      const unit = (await sd.run(["systemctl", "cat", "secretfile.service"])).stdout;
      const props = serviceSettings(unit).filter(([k]) => !["Type", "ExecStart", "Restart", "RestartSec"].includes(k));
      expect(props.map(([k]) => k)).toEqual(
        expect.arrayContaining(["RestrictAddressFamilies", "ProtectSystem", "ReadWritePaths", "SystemCallFilter"]),
      );
      const probe = `
      const fs = require("fs"), net = require("net"), dgram = require("dgram");
      const tryWrite = (f) => { try { fs.writeFileSync(f, "x"); fs.unlinkSync(f); return "ok"; } catch (e) { return e.code; } };
      const udp = () => new Promise((done) => { const u = dgram.createSocket("udp4"); u.on("error", (e) => done(e.code)); u.bind(0, () => { u.close(); done("ok"); }); });
      const tcp = () => new Promise((done) => { const t = net.connect(9, "127.0.0.1"); t.on("error", (e) => done(e.code)); t.on("connect", () => { t.destroy(); done("ok"); }); });
      (async () => {
        const out = { state: tryWrite("/var/lib/secretfile/.probe"), etc: tryWrite("/etc/secretfile/.probe"), varlib: tryWrite("/var/lib/.probe") };
        out.udp = await udp();
        out.tcp = await tcp();
        console.log(JSON.stringify(out));
      })();`;
      const args = [
        "systemd-run",
        "--wait",
        "--pipe",
        "--quiet",
        ...props.flatMap(([k, v]) => ["-p", `${k}=${v}`]),
        "--",
        NODE,
        "-e",
        probe,
      ];
      const r = await sd.run(args);
      expect(r.code, r.stderr).toBe(0);
      const seen = JSON.parse(r.stdout.trim().split("\n").pop()!);
      expect(seen).toEqual({ state: "ok", etc: "EROFS", varlib: "EROFS", udp: "EAFNOSUPPORT", tcp: "EAFNOSUPPORT" });
      // systemd's own score of the installed unit stays at or under 2.5 ("OK").
      const score = (await sd.run(["systemd-analyze", "security", "--no-pager", "secretfile.service"])).stdout;
      const exposure = Number(/Overall exposure level for secretfile\.service: ([0-9.]+)/.exec(score)?.[1]);
      expect(exposure).toBeLessThanOrEqual(2.5);
    });

    it("a policy change is in force at the next request, without restarting the agent (and through systemctl reload when the unit has ExecReload=)", async () => {
      const before = await agentPid();
      const refused = await asJob([NODE, APP_BIN, "get", "ACME_KEY"]);
      expect(refused.code, refused.stderr).toBe(4);
      await policy([`read user:${job} ACME_KEY`]);
      const unit = (await sd.run(["systemctl", "cat", "secretfile.service"])).stdout;
      if (/^ExecReload=/m.test(unit)) await sd.systemctl(["reload", "secretfile.service"]);
      const got = await asJob([NODE, APP_BIN, "get", "ACME_KEY"]);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout).toBe(KEY);
      expect(await agentPid()).toBe(before);
    });

    it("setup --seal systemd-creds: the identity leaves the disk and the agent gets it through LoadCredentialEncrypted=", async () => {
      const r = await cli(["setup", "--seal", "systemd-creds"]);
      expect(r.code, r.stderr).toBe(0);
      expect((await sd.run(["test", "-e", "/var/lib/secretfile/identity.txt"])).code).toBe(1);
      expect((await sd.run(["test", "-s", "/etc/credstore.encrypted/secretfile-identity"])).code).toBe(0);
      expect((await sd.run(["systemctl", "cat", "secretfile.service"])).stdout).toContain(
        "LoadCredentialEncrypted=secretfile-identity:/etc/credstore.encrypted/secretfile-identity",
      );
      // The unit changed: setup restarted a running agent (or the socket starts a new one now).
      const got = await asJob([NODE, APP_BIN, "get", "ACME_KEY"]);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout).toBe(KEY);
      const pid = await agentPid();
      const env = (await sd.run(["sh", "-c", `tr '\\0' '\\n' < /proc/${pid}/environ`])).stdout;
      const dir = /^CREDENTIALS_DIRECTORY=(.*)$/m.exec(env)?.[1];
      expect(dir).toBeDefined();
      // systemd decrypted it into memory for the agent alone.
      const cred = await sd.run(["stat", "-c", "%U %a", `${dir}/secretfile-identity`]);
      expect(cred.stdout.trim()).toMatch(/^secretfile [46]00$/);
    });

    it("a .timer and .service pair gets its key through exec, and the audit log shows it", async () => {
      const name = `report-${randomBytes(4).toString("hex")}`;
      const out = `/var/lib/${name}`;
      await sd.write(
        `/etc/systemd/system/${name}.service`,
        [
          "[Unit]",
          "Description=a scheduled report",
          "[Service]",
          "Type=oneshot",
          `User=${job}`,
          `StateDirectory=${name}`,
          `ExecStart=${NODE} ${APP_BIN} exec --only ACME_KEY -- /bin/sh -c 'printf %%s "$ACME_KEY" | sha256sum > ${out}/seen; echo "key=$ACME_KEY"'`,
          "",
        ].join("\n"),
      );
      await sd.write(
        `/etc/systemd/system/${name}.timer`,
        ["[Unit]", "Description=run the report soon", "[Timer]", "OnActiveSec=1s", "AccuracySec=1ms", ""].join("\n"),
      );
      await sd.systemctl(["daemon-reload"]);
      await sd.systemctl(["start", `${name}.timer`]);
      await until(
        async () =>
          (await sd.systemctl(["show", "-P", "Result", `${name}.service`])).stdout.trim() === "success" &&
          (await sd.run(["test", "-s", `${out}/seen`])).code === 0,
      );
      const seen = (await sd.run(["cat", `${out}/seen`])).stdout;
      expect(seen.split(" ")[0]).toBe(sha256(KEY));
      // exec masked the value in what the job printed (the journal keeps it).
      let journal = "";
      await until(async () =>
        (journal = (await sd.run(["journalctl", "--no-pager", "-o", "cat", "-u", `${name}.service`])).stdout).includes(
          "key=",
        ),
      );
      expect(journal).toContain("key=");
      expect(journal).not.toContain(KEY);
      const audit = await cli(["audit", "--name", "ACME_KEY", "--user", job]);
      expect(audit.code, audit.stderr).toBe(0);
      expect(audit.stdout).toMatch(/allow/);
    });

    it("LoadCredential= from the agent: a unit the policy names gets its key, one it does not name fails to start, both audited", async () => {
      const tag = randomBytes(4).toString("hex");
      const ok = `cred-ok-${tag}.service`;
      const no = `cred-no-${tag}.service`;
      await policy([`read user:${job} ACME_KEY`, "read unit:cred-ok-*.service ACME_KEY"]);
      for (const unit of [ok, no]) {
        await sd.write(
          `/etc/systemd/system/${unit}`,
          [
            "[Service]",
            "Type=oneshot",
            `User=${job}`,
            `StateDirectory=${unit}`,
            "LoadCredential=ACME_KEY:/run/secretfile/credentials.sock",
            `ExecStart=/bin/sh -c 'sha256sum < "$CREDENTIALS_DIRECTORY/ACME_KEY" > /var/lib/${unit}/seen'`,
            "",
          ].join("\n"),
        );
      }
      await sd.systemctl(["daemon-reload"]);
      const started = await sd.systemctl(["start", ok], { allowFail: true });
      expect(started.code, started.stderr).toBe(0);
      expect((await sd.run(["cat", `/var/lib/${ok}/seen`])).stdout.split(" ")[0]).toBe(sha256(KEY));
      // A delivery counts as a read: `ls` shows the unit as the last reader.
      const listed = JSON.parse((await cli(["ls", "--json"])).stdout) as { name: string; lastRead?: unknown }[];
      expect(JSON.stringify(listed.find((x) => x.name === "ACME_KEY")?.lastRead)).toContain(`unit:${ok}`);
      const refused = await sd.systemctl(["start", no], { allowFail: true });
      expect(refused.code).not.toBe(0);
      expect((await sd.systemctl(["show", "-P", "ExecMainStatus", no])).stdout.trim()).toBe("243");
      expect((await sd.run(["test", "-e", `/var/lib/${no}/seen`])).code).toBe(1);
      const credentialLines = async () =>
        (await cli(["audit", "--name", "ACME_KEY", "--json"])).stdout
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((l) => l.op === "credential");
      let credential: Record<string, unknown>[] = [];
      await until(async () => (credential = await credentialLines()).length >= 2).catch(() => undefined);
      expect(credential.map((l) => [l.user, l.allowed])).toEqual([
        [`unit:${ok}`, true],
        [`unit:${no}`, false],
      ]);
      expect(String(credential[1]!.reason)).toContain(`no rule grants read of ACME_KEY to unit ${no}`);
      // Anyone can bind systemd's form of address; only uid 0 is believed. A job user posing as the unit gets nothing.
      const spoof = `
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\\0" + b"0123456789abcdef/unit/${ok}/ACME_KEY")
s.connect("/run/secretfile/credentials.sock")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
print(len(data))`;
      const posed = await asJob(["python3", "-c", spoof]);
      expect(posed.stdout.trim(), posed.stderr).toBe("0");
      // Dropped, not audited line by line (anyone can connect); the agent's journal says so.
      await until(async () =>
        (await sd.run(["journalctl", "--no-pager", "-o", "cat", "-u", "secretfile.service"])).stdout.includes(
          "credential socket: dropped a connection from uid ",
        ),
      );
    });

    it("Restart= brings the agent back after a SIGKILL, and no acknowledged write is lost", async () => {
      const before = await agentPid();
      // Ten adds in a row; the agent is killed while they run. Each add that exited 0 must be in the store after.
      const loop = `for i in 0 1 2 3 4 5 6 7 8 9; do echo "v$i" | timeout 20 ${NODE} ${APP_BIN} add "BURST_$i" >/dev/null 2>&1 && echo "BURST_$i"; done`;
      const writes = sd.run(["sh", "-c", loop], { timeoutMs: 120_000 });
      await until(async () => (await cli(["ls", "--json"])).stdout.includes("BURST_2"));
      await sd.systemctl(["kill", "--signal=KILL", "secretfile.service"]);
      const acked = (await writes).stdout.split("\n").filter(Boolean);
      await until(
        async () =>
          (await sd.systemctl(["is-active", "secretfile.service"], { allowFail: true })).stdout.trim() === "active" ||
          (await cli(["ls"])).code === 0,
      );
      const listed = JSON.parse((await cli(["ls", "--json"])).stdout) as { name: string }[];
      const names = listed.map((s) => s.name);
      for (const a of acked) expect(names).toContain(a);
      expect(acked.length).toBeGreaterThanOrEqual(3);
      expect(
        Number((await sd.systemctl(["show", "-P", "NRestarts", "secretfile.service"])).stdout.trim()),
      ).toBeGreaterThanOrEqual(1);
      expect(await agentPid()).not.toBe(before);
    }, 180_000);
  },
);

const sha256 = (v: string) => createHash("sha256").update(v, "utf8").digest("hex");

// The [Service] settings of a unit as `systemctl cat` shows it, as [key, value] pairs, comments left out.
function serviceSettings(unit: string): [string, string][] {
  const pairs: [string, string][] = [];
  let section = "";
  for (const line of unit.split("\n")) {
    const head = /^\[(.+)\]$/.exec(line.trim());
    if (head) section = head[1]!;
    else if (section === "Service" && /^[A-Za-z]+=/.test(line))
      pairs.push([line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]);
  }
  return pairs;
}
