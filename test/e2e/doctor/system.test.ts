// `secretfile doctor` in system mode against a real agent: as root it checks the socket, the agent, the policy and
// the service account's files; as a job user what the policy lets it read; a stopped agent is exit 1 with its fix.

import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../../helpers/cli.js";
import { NEEDS_ROOT, useSystem, type RunningAgent, type TestUser } from "../../helpers/system.js";
import { START_AGENT } from "../../../src/client/unreachable.js";

const fixesOf = (stdout: string) => [...stdout.matchAll(/^ {5}fix: (.*)$/gm)].map((m) => m[1]!);

describe.skipIf(!isRoot)(`doctor in system mode (${NEEDS_ROOT})`, () => {
  const sys = useSystem(["job", "outsider"]);
  let agent: RunningAgent;
  const doctor = (as?: TestUser) =>
    sys.world.run(["doctor", "--state-dir", agent.dir, "--policy", agent.policy, "--audit", agent.audit], {
      as,
      env: { SECRETFILE_SOCKET: agent.socket },
    });

  beforeAll(async () => {
    agent = await sys.startAgent({
      policyText: `read user:${sys.users.job.name} API_KEY\n`,
      secrets: { API_KEY: "a", OTHER_KEY: "b" },
    });
  });

  it("as root: checks the socket, agent, policy, state folder, identity, store and audit log, and exits 0", async () => {
    const r = await doctor();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const service = `${sys.users.service.name} (uid ${sys.users.service.uid})`;
    expect(r.stdout.split("\n")[0]).toBe(`system mode: the agent at ${agent.socket} (SECRETFILE_SOCKET is set)`);
    for (const line of [
      `ok   the agent socket ${agent.socket} (${service}, 0666)`,
      `ok   the agent answers on ${agent.socket} (protocol 1)`,
      "ok   the policy lets you (root (uid 0)) read 2 secrets: API_KEY, OTHER_KEY",
      `ok   the policy ${agent.policy} (root (uid 0), 0644)`,
      `ok   the policy ${agent.policy} loads: 1 rule`,
      `ok   the state folder ${agent.dir} (${service}, 0700)`,
      `ok   the store ${path.join(agent.dir, "store.age")} (${service}, 0600)`,
      `ok   the audit folder ${path.dirname(agent.audit)} (${service}, 0700)`,
      `ok   the audit log ${agent.audit} (${service}, 0600)`,
    ]) {
      expect(r.stdout).toContain(line);
    }
    // `init` makes a personal identity (0600); setup makes the agent's 0400: a warning, not a failure.
    expect(r.stdout).toContain(
      `warn the identity ${path.join(agent.dir, "identity.txt")} has mode 0600, looser than the documented 0400`,
    );
    // Warnings besides: the runtime's, on a Node.js past its end of life (the tests' Node is the host's).
    expect(r.stdout).toMatch(/^no problems found, \d+ warnings?$/m);
  });

  it("as root: a rule naming a user or group this host lacks is a warning naming the line, with the fix", async () => {
    writeFileSync(agent.policy, `read user:${sys.users.job.name} API_KEY\nread group:no-such-group-xq API_KEY\n`);
    try {
      const r = await doctor();
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(
        `warn ${agent.policy}:2: no group "no-such-group-xq" on this host: the rule grants nothing`,
      );
      expect(fixesOf(r.stdout)).toContain(
        `make the account, or correct it: editor ${agent.policy} && secretfile policy check ${agent.policy}`,
      );
      expect(r.stdout).toMatch(/^no problems found, [2-9] warnings$/m);
    } finally {
      writeFileSync(agent.policy, `read user:${sys.users.job.name} API_KEY\n`);
    }
  });

  it("as a job user: what the policy lets it read, and a note that the service files need root", async () => {
    const r = await doctor(sys.users.job);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `ok   the policy lets you (${sys.users.job.name} (uid ${sys.users.job.uid})) read 1 secret: API_KEY`,
    );
    expect(r.stdout).toContain(
      "info not root: the state folder, identity, store and audit log were not checked: `sudo secretfile doctor`",
    );
  });

  it("as a user no rule names: a warning with the policy's hint, still exit 0", async () => {
    const r = await doctor(sys.users.outsider);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `warn the policy lets you (${sys.users.outsider.name} (uid ${sys.users.outsider.uid})) read no secret`,
    );
    expect(fixesOf(r.stdout)[0]).toContain(`read user:${sys.users.outsider.name}`);
  });

  // A fix on a path in the service account's folder runs as that account; in root's own folder, as root.
  const asService = () => `runuser -u ${sys.users.service.name} -- `;
  it.for([
    {
      what: "an identity the group can read",
      file: () => path.join(agent.dir, "identity.txt"),
      mode: 0o640,
      fix: () => `${asService()}chmod 400`,
    },
    {
      what: "an audit log others can write",
      file: () => agent.audit,
      mode: 0o602,
      fix: () => `${asService()}chmod 600`,
    },
    { what: "a policy the group can write", file: () => agent.policy, mode: 0o664, fix: () => "chmod 644" },
  ])("fails on $what, and is healthy once the printed fix is run", async ({ file, mode, fix }) => {
    chmodSync(file(), mode);
    const r = await doctor();
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain(`FAIL `);
    expect(fixesOf(r.stdout)).toContain(`${fix()} ${file()}`);
    const ran = spawnSync("/bin/sh", ["-c", `${fix()} ${file()}`]);
    expect(ran.status).toBe(0);
    const after = await doctor();
    expect(after.code, after.stdout).toBe(0);
  });

  it("an audit log the service account made a link: the printed fix moves its target back as that account, and never root's file", async () => {
    const service = sys.users.service;
    const aside = `${agent.audit}.aside`;
    const asService = (cmd: string) => spawnSync("/bin/sh", ["-c", cmd], { uid: service.uid, gid: service.gid });
    // root's file, in root's folder (as /etc/shadow), and the link the service account points at it.
    const victim = path.join(sys.world.mkdir("doctor-victim", 0o755), "shadow");
    writeFileSync(victim, "root's only\n", { mode: 0o600 });
    renameSync(agent.audit, aside);
    try {
      expect(asService(`ln -s '${victim}' '${agent.audit}'`).status).toBe(0);
      const r = await doctor();
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toContain(`FAIL the audit log ${agent.audit} is a symlink: secretfile refuses to follow it`);
      // root runs what doctor printed for the audit log; root's file stays where it is, as it was.
      const fixes = fixesOf(r.stdout).filter((f) => f.includes(agent.audit));
      for (const fix of fixes) spawnSync("/bin/sh", ["-c", fix]);
      expect({ content: readFileSync(victim, "utf8"), uid: statSync(victim).uid }).toEqual({
        content: "root's only\n",
        uid: 0,
      });
      expect(fixes).toEqual([
        `runuser -u ${service.name} -- rm ${agent.audit} && runuser -u ${service.name} -- mv -T ${victim} ${agent.audit}`,
      ]);
      expect(existsSync(agent.audit)).toBe(false);
      // A link to its own file (the log moved aside): the same fix puts it back, and doctor is content.
      expect(asService(`ln -s '${aside}' '${agent.audit}'`).status).toBe(0);
      const again = fixesOf((await doctor()).stdout).find((f) => f.includes(`mv -T ${aside} `));
      expect(spawnSync("/bin/sh", ["-c", again!]).status).toBe(0);
      expect(lstatSync(agent.audit).isFile()).toBe(true);
      expect((await doctor()).code).toBe(0);
    } finally {
      if (existsSync(aside)) {
        rmSync(agent.audit, { force: true });
        renameSync(aside, agent.audit);
      }
    }
  });

  it("an identity of the wrong owner and mode: the printed fixes, run by root after the service account swapped it for a link to root's file, change nothing of root's", async () => {
    const service = sys.users.service;
    const identity = path.join(agent.dir, "identity.txt");
    const mine = `${identity}.mine`;
    const victim = path.join(sys.world.mkdir("doctor-victim-2", 0o755), "passwd");
    writeFileSync(victim, "root's\n", { mode: 0o644 });
    chownSync(identity, 0, 0);
    chmodSync(identity, 0o644);
    try {
      const fixes = fixesOf((await doctor()).stdout).filter((f) => f.endsWith(` ${identity}`));
      // Between doctor and the fix: the account owns the folder, so it may rename root's file and put a link there.
      const swap = spawnSync("/bin/sh", ["-c", `mv '${identity}' '${mine}' && ln -s '${victim}' '${identity}'`], {
        uid: service.uid,
        gid: service.gid,
      });
      expect(swap.status).toBe(0);
      for (const fix of fixes) spawnSync("/bin/sh", ["-c", fix]);
      const st = statSync(victim);
      expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ uid: 0, gid: 0, mode: 0o644 });
      expect(fixes).toEqual([
        `chown -h ${service.name} ${identity}`,
        `runuser -u ${service.name} -- chmod 400 ${identity}`,
      ]);
    } finally {
      rmSync(identity, { force: true });
      renameSync(mine, identity);
      chownSync(identity, service.uid, service.gid);
      chmodSync(identity, 0o600);
    }
  });

  it("as root, prints its fixes without sudo: no audit log is fixed by restarting the agent", async () => {
    const aside = `${agent.audit}.aside`;
    renameSync(agent.audit, aside);
    try {
      const r = await doctor();
      expect(r.code, r.stdout).toBe(1);
      const fixes = fixesOf(r.stdout);
      expect(fixes).toContain("systemctl restart secretfile.socket secretfile.service");
      expect(fixes.filter((f) => f.startsWith("sudo"))).toEqual([]);
    } finally {
      renameSync(aside, agent.audit);
    }
  });

  it("with no identity.txt: a sealed identity (setup --seal) is reported (and checked: root's, 0600), not a missing identity", async () => {
    const identity = path.join(agent.dir, "identity.txt");
    const aside = `${identity}.aside`;
    const credential = path.join(sys.world.mkdir("credstore", 0o700), "secretfile-identity");
    const run = () =>
      sys.world.run(
        [
          "doctor",
          "--state-dir",
          agent.dir,
          "--policy",
          agent.policy,
          "--audit",
          agent.audit,
          "--credential",
          credential,
        ],
        { env: { SECRETFILE_SOCKET: agent.socket } },
      );
    renameSync(identity, aside);
    try {
      const missing = await run();
      expect(missing.code).toBe(1);
      expect(missing.stdout).toContain(
        `FAIL no identity at ${identity}: restore it from a backup, or run setup to make a new one`,
      );
      writeFileSync(credential, "sealed bytes (doctor only looks at the file)", { mode: 0o600 });
      const sealed = await run();
      expect(sealed.code, sealed.stdout).toBe(0);
      expect(sealed.stdout).toContain(`ok   the sealed identity ${credential} (root (uid 0), 0600)`);
      expect(sealed.stdout).toContain(
        `info the identity is sealed as the systemd credential ${credential} (no plaintext identity on disk)`,
      );
      chmodSync(credential, 0o644);
      const loose = await run();
      expect(loose.code).toBe(1);
      expect(loose.stdout).toContain(`the sealed identity ${credential}`);
    } finally {
      renameSync(aside, identity);
    }
  });

  it("exits 1 with the fix that starts it (systemd or not) once the agent has stopped", async () => {
    await agent.stop();
    const r = await doctor();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL no agent socket at ${agent.socket}: the agent is not running`);
    expect(fixesOf(r.stdout)).toContain(START_AGENT);
  });
});
