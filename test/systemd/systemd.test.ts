// secretfile under a real systemd 252 (PID 1 of its own namespaces, test/helpers/systemd.ts): setup with the real
// default paths inside the namespace, socket activation, the unit's sandbox, sealed identity, timers, Restart=.
// The tests run in order and share one boot; each step builds on the one before.

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_BIN, bootSystemd, systemdSkipReason, type Booted } from "../helpers/systemd.js";

const skip = systemdSkipReason();
const NODE = "/usr/bin/node";
const KEY = `key-${randomBytes(12).toString("hex")}`;
const POLICY = "/etc/secretfile/policy";

describe.skipIf(skip !== undefined).sequential(`under a real systemd${skip === undefined ? "" : ` (skipped: ${skip})`}`, () => {
  let sd: Booted;
  const marker = `/tmp/secretfile-systemd-marker-${randomBytes(6).toString("hex")}`;
  let job = "";
  const cli = (args: string[], input?: string) => sd.run([NODE, APP_BIN, ...args], { input });
  const asJob = (argv: string[]) => sd.run(["runuser", "-u", job, "--", ...argv]);
  const agentPid = async () => Number((await sd.systemctl(["show", "-P", "MainPID", "secretfile.service"])).stdout.trim());
  const policy = (lines: string[]) => sd.write(POLICY, `${lines.join("\n")}\n`, 0o644);

  beforeAll(async () => {
    writeFileSync(marker, "must survive systemd's tmpfiles\n");
    sd = await bootSystemd();
    job = `sfj${randomBytes(4).toString("hex")}`;
    const made = await sd.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", "-U", job]);
    expect(made.code, made.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
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
    const services = (await sd.systemctl(["list-units", "--type=service", "--state=running", "--plain", "--no-legend"])).stdout;
    expect(services).not.toMatch(/postgresql|exim|cron/);
  });

  it("setup with the default paths installs the units; the socket starts the agent on the first connection", async () => {
    const r = await cli(["setup"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("ran systemctl enable --now secretfile.socket");
    expect((await sd.systemctl(["is-active", "secretfile.socket"])).stdout.trim()).toBe("active");
    expect((await sd.systemctl(["is-active", "secretfile.service"], { allowFail: true })).stdout.trim()).toBe("inactive");
    // The outside machine has none of it.
    for (const f of ["/etc/secretfile", "/var/lib/secretfile", "/var/log/secretfile", "/etc/systemd/system/secretfile.service"]) expect(existsSync(f)).toBe(false);
    const added = await cli(["add", "ACME_KEY"], KEY);
    expect(added.code, added.stderr).toBe(0);
    expect((await sd.systemctl(["is-active", "secretfile.service"])).stdout.trim()).toBe("active");
    expect(await agentPid()).toBeGreaterThan(1);
  });
});

