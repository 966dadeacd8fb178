// Attack: reading the agent's memory or environment from another process of the service account (a compromised
// helper, a second service sharing the account), or finding a value in its argv, environment or a core file. The
// agent makes itself non-dumpable and sets RLIMIT_CORE to 0: seen from outside, /proc/PID belongs to root, mem,
// environ and ptrace are refused to its own uid, no core can be written, and its argv and environment hold no value.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem } from "../../helpers/system.js";
import { startAgentWith, type Agent } from "./agents.js";
import { coreLimit, probeAs } from "./probe.js";

const value = (tag: string) => `${tag}-${randomBytes(16).toString("hex")}`;

describe.skipIf(!isRoot)(`the agent's process, seen from outside (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job"]);
  const secrets = { API_KEY: value("api"), OTHER: value("other") };
  let agent: Agent;

  beforeAll(async () => {
    agent = await startAgentWith(sys, { policyText: `read user:${sys.users.job.name} *\n`, secrets });
    // Make it hold decrypted values: serve a few.
    for (const args of [
      ["get", "API_KEY"],
      ["exec", "--only", "API_KEY,OTHER", "--", "/usr/bin/true"],
    ]) {
      const r = await sys.world.run(args, { as: sys.users.job, env: { SECRETFILE_SOCKET: agent.socket } });
      expect(r.code, r.stderr).toBe(0);
    }
  });

  it("is not dumpable: its /proc files belong to root though it runs as the service account", () => {
    const status = readFileSync(`/proc/${agent.pid}/status`, "utf8");
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(sys.users.service.uid));
    expect(statSync(`/proc/${agent.pid}/status`).uid).toBe(0);
    expect(statSync(`/proc/${agent.pid}/environ`).uid).toBe(0);
  });

  it("has a core file size limit of 0, soft and hard", () => {
    expect(coreLimit(agent.pid)).toEqual(["0", "0"]);
  });

  it("refuses another process of the service account its memory, environment, maps and ptrace", () => {
    // Control: an ordinary process of the same account is open to it in every way the agent is closed.
    const control = spawn("sleep", ["30"], { uid: sys.users.service.uid, gid: sys.users.service.gid, stdio: "ignore" });
    try {
      expect(probeAs(sys.users.service, control.pid!)).toMatchObject({
        environ: "read",
        mem: "read",
        maps: "read",
        ptrace: "attached",
      });
    } finally {
      control.kill();
    }
    expect(probeAs(sys.users.service, agent.pid)).toEqual({
      environ: "EACCES",
      mem: "EACCES",
      maps: "EACCES",
      cmdline: "read",
      status: "read",
      ptrace: "EPERM",
    });
  });

  it("refuses a job's process the same way", () => {
    expect(probeAs(sys.users.job, agent.pid)).toMatchObject({ environ: "EACCES", mem: "EACCES", ptrace: "EPERM" });
  });

  it("holds no value and no identity in its argv or environment", () => {
    const identity = readFileSync(`${agent.dir}/identity.txt`, "utf8").match(/AGE-SECRET-KEY-[0-9A-Z]+/)![0];
    const cmdline = readFileSync(`/proc/${agent.pid}/cmdline`, "utf8");
    const environ = readFileSync(`/proc/${agent.pid}/environ`, "utf8");
    expect(cmdline).toContain("agent");
    for (const secret of [...Object.values(secrets), identity]) {
      expect(cmdline.includes(secret), "a secret in argv").toBe(false);
      expect(environ.includes(secret), "a secret in the environment").toBe(false);
      expect(environ.includes(secret.slice(-20)), "part of a secret in the environment").toBe(false);
    }
    expect(environ).not.toMatch(/AGE-SECRET-KEY/i);
    expect(agent.stderr()).not.toContain(secrets.API_KEY);
  });
});
