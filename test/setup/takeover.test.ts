// setup never takes over what is not its own: a folder holding others' files (issue 12, hole 6), an account with another
// role (hole 7). Rules: root only (real users by useradd, random names, removed after); everything under a temporary root.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot } from "../helpers/cli.js";
import { makeWorld, NEEDS_ROOT, NODE, type World } from "../helpers/system.js";
import { inspectAccount } from "../../src/setup/account.js";
import { HOST_FILES, systemUidRange } from "../../src/setup/account-fit.js";
import { USE_FILES, type UseFiles } from "../../src/setup/account-use.js";
import { stateEntry } from "../../src/setup/folders.js";
import { AccessError } from "../../src/errors.js";

const made: { users: string[]; groups: string[] } = { users: [], groups: [] };
/** What the agent of these checks owns and runs: its state folder, and the node the tests run it with. */
const AGENT = { ownFolders: ["/var/lib/secretfile"], agentNode: realpathSync(NODE) };
const name = () => `sft_${randomBytes(4).toString("hex")}`;

/** useradd NAME with `args`; the user is removed in afterAll. */
function useradd(args: string[]): string {
  const user = name();
  execFileSync("useradd", [...args, user], { stdio: ["ignore", "ignore", "pipe"] });
  made.users.push(user);
  return user;
}

function groupadd(): string {
  const group = name();
  execFileSync("groupadd", [group]);
  made.groups.push(group);
  return group;
}

const exists = (user: string) => spawnSync("getent", ["passwd", user]).status === 0;
const ownerMode = (p: string) => {
  const st = lstatSync(p);
  return { uid: st.uid, gid: st.gid, mode: (st.mode & 0o7777).toString(8) };
};

describe("systemUidRange", () => {
  it("reads SYS_UID_MIN and SYS_UID_MAX from login.defs, 100–999 where they are commented out or missing", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sf-logindefs-"));
    try {
      const defs = path.join(dir, "login.defs");
      writeFileSync(defs, "#SYS_UID_MIN\t\t  100\n#SYS_UID_MAX 999\nUID_MIN 1000\n");
      expect(systemUidRange(defs)).toEqual([100, 999]);
      writeFileSync(defs, "SYS_UID_MIN  201\nSYS_UID_MAX\t499\n");
      expect(systemUidRange(defs)).toEqual([201, 499]);
      expect(systemUidRange(path.join(dir, "none"))).toEqual([100, 999]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!isRoot)(`setup refuses what is not its own (${NEEDS_ROOT})`, () => {
  let world: World;
  let n = 0;
  const layout = () => {
    const root = path.join(world.root, `l${++n}`);
    mkdirSync(root, { mode: 0o755 });
    const l = {
      root,
      dir: path.join(root, "var/lib/secretfile"),
      socket: path.join(root, "run/secretfile/agent.sock"),
      policy: path.join(root, "etc/secretfile/policy"),
      audit: path.join(root, "var/log/secretfile/audit.log"),
      units: path.join(root, "units"),
    };
    return {
      ...l,
      flags: () => [
        "--dir",
        l.dir,
        "--socket",
        l.socket,
        "--policy",
        l.policy,
        "--audit",
        l.audit,
        "--units-dir",
        l.units,
      ],
    };
  };
  // A folder like /var/log: root's, 0755, holding another program's file.
  const foreign = (dir: string) => {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    writeFileSync(path.join(dir, "syslog"), "another program's\n");
    return dir;
  };

  beforeAll(() => {
    world = makeWorld();
  });

  afterAll(() => {
    for (const user of made.users) spawnSync("userdel", ["-r", user], { stdio: "ignore" });
    for (const group of made.groups) spawnSync("groupdel", [group], { stdio: "ignore" });
    // Unset when beforeAll failed or was skipped.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
    world?.cleanup();
  });

  describe("folders (hole 6)", () => {
    it.for([
      { what: "audit folder", flag: "--audit", file: "x.log", extra: [] as string[] },
      { what: "socket folder", flag: "--socket", file: "x.sock", extra: [] },
      { what: "credential folder", flag: "--credential", file: "x", extra: ["--seal", "systemd-creds"] },
      { what: "state folder", flag: "--dir", file: "", extra: [] },
    ])(
      "refuses a root folder holding other files as the $what: exit 4, the folder named, nothing changed",
      async ({ what, flag, file, extra }) => {
        const l = layout();
        const dir = foreign(path.join(l.root, "shared"));
        const before = ownerMode(dir);
        const user = name();
        const flags = l.flags();
        const at = flags.indexOf(flag);
        const value = file === "" ? dir : path.join(dir, file);
        if (at >= 0) flags[at + 1] = value;
        else flags.push(flag, value);
        const r = await world.run(["setup", ...flags, "--user", user, ...extra]);
        if (exists(user)) made.users.push(user);
        expect(r.code, r.stderr).toBe(4);
        expect(r.stderr).toContain(
          `secretfile: error: refusing to take over ${dir} as the ${what}: it holds an entry setup did not make ("syslog")`,
        );
        expect(r.stderr).toContain(
          `secretfile: hint: use a folder of its own, such as ${path.join(dir, "secretfile")}/ (${flag} ${path.join(dir, "secretfile", file)}): setup creates it`,
        );
        expect(ownerMode(dir)).toEqual(before);
        // Checked before anything was made: no account, no state folder, no policy, no units.
        expect(exists(user)).toBe(false);
        for (const p of [l.dir, l.policy, l.units, path.dirname(l.audit)])
          if (p !== dir) expect(existsSync(p), p).toBe(false);
      },
    );

    it("fixes a folder it made before (empty, or holding only its own files), and keeps a root folder that needs no change", async () => {
      const l = layout();
      const user = name();
      const first = await world.run(["setup", ...l.flags(), "--user", user]);
      made.users.push(user);
      expect(first.code, first.stderr).toBe(0);
      const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }));
      // The empty audit folder and the state folder (identity.txt, store.age) loosened by hand.
      const auditDir = path.dirname(l.audit);
      chownSync(auditDir, 0, 0);
      chmodSync(auditDir, 0o755);
      chmodSync(l.dir, 0o750);
      // The policy in a folder like /etc: root's, 0755, other files in it; setup changes nothing there.
      const etc = foreign(path.join(l.root, "etc2"));
      const flags = l.flags();
      flags[flags.indexOf("--policy") + 1] = path.join(etc, "secretfile.policy");
      const again = await world.run(["setup", ...flags, "--user", user]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain(
        `secretfile: fixed the audit folder ${auditDir}: now ${user}:${user} 0700 (was uid 0, gid 0, 0755)`,
      );
      expect(again.stderr).toContain(`secretfile: fixed the state folder ${l.dir}`);
      expect(again.stderr).toContain(`secretfile: kept the policy folder ${etc} (root:root 0755)`);
      expect(ownerMode(auditDir)).toEqual({ uid, gid: lstatSync(l.dir).gid, mode: "700" });
      expect(ownerMode(l.dir).mode).toBe("700");
    });
  });

  describe("accounts (hole 7)", () => {
    const nologin = ["-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin"];
    const inspect = (user: string, crontabs?: string) =>
      inspectAccount(user, {
        adopt: false,
        stateDir: "/var/lib/secretfile",
        ownState: stateEntry,
        agent: AGENT,
        files: crontabs === undefined ? undefined : { ...HOST_FILES, crontabs: [crontabs] },
      });

    it("accepts a system account with no other role (what setup itself makes)", () => {
      const user = useradd(["--system", "-U", ...nologin]);
      expect(inspect(user).existing?.name).toBe(user);
    });

    it.for([
      {
        role: "a uid outside the system range",
        args: () => ["-U", ...nologin],
        says: /uid \d+, not a system account's \(SYS_UID_MIN\.\.SYS_UID_MAX of \/etc\/login\.defs: \d+–\d+\)/,
      },
      {
        role: "a login shell",
        args: () => ["--system", "-U", "-M", "-d", "/nonexistent", "-s", "/bin/sh"],
        says: /the login shell \/bin\/sh/,
      },
      {
        role: "a home with content",
        args: () => ["--system", "-U", "-M", "-d", homeWithContent(), "-s", "/usr/sbin/nologin"],
        says: /a home with content \(.*: 1 entry\)/,
      },
      {
        role: "a password",
        args: () => ["--system", "-U", ...nologin, "-p", "$6$salt$" + "x".repeat(86)],
        says: /a password in \/etc\/shadow/,
      },
      {
        role: "a locked password (a hash behind !)",
        args: () => ["--system", "-U", ...nologin, "-p", "!$6$salt$" + "x".repeat(86)],
        says: /a password in \/etc\/shadow/,
      },
      {
        role: "supplementary groups",
        args: () => ["--system", "-U", ...nologin, "-G", groupadd()],
        says: /supplementary groups \(sft_[0-9a-f]+\)/,
      },
    ])("refuses an existing account with $role (exit 4, naming it)", ({ args, says }) => {
      const user = useradd(args());
      expect(() => inspect(user)).toThrow(AccessError);
      expect(() => inspect(user)).toThrow(says);
      expect(
        inspectAccount(user, {
          adopt: true,
          stateDir: "/var/lib/secretfile",
          ownState: stateEntry,
          agent: AGENT,
        }).adopted.join("; "),
      ).toMatch(says);
    });

    it("accepts an account whose home is the state folder holding only the store, and refuses one with more there", () => {
      const state = mkdtempSync(path.join(world.root, "state-"));
      writeFileSync(path.join(state, "identity.txt"), "");
      writeFileSync(path.join(state, "store.age"), "");
      const user = useradd(["--system", "-U", "-M", "-d", state, "-s", "/usr/sbin/nologin"]);
      const at = (dir: string) => () =>
        inspectAccount(user, { adopt: false, stateDir: dir, ownState: stateEntry, agent: AGENT });
      expect(at(state)().existing?.name).toBe(user);
      expect(at("/var/lib/secretfile")).toThrow(`a home with content (${state}: 2 entries)`);
      writeFileSync(path.join(state, ".bash_history"), "");
      expect(at(state)).toThrow(`a home with content (${state}: 1 entry)`);
    });

    it("refuses an account with a crontab", () => {
      const user = useradd(["--system", "-U", ...nologin]);
      const spool = mkdtempSync(path.join(world.root, "crontabs-"));
      writeFileSync(path.join(spool, user), "# nothing\n");
      expect(() => inspect(user, spool)).toThrow(`a crontab (${path.join(spool, user)})`);
    });

    describe("another daemon's account (an account that already runs or owns something)", () => {
      const inspectWith = (user: string, use: Partial<UseFiles>, agent = AGENT) =>
        inspectAccount(user, {
          adopt: false,
          stateDir: "/var/lib/secretfile",
          ownState: stateEntry,
          agent,
          use: { ...USE_FILES, ...use },
        });

      it("refuses one that runs a process, and not for the agent's own (the node it runs)", async () => {
        const user = useradd(["--system", "-U", ...nologin]);
        const id = { uid: Number(execFileSync("id", ["-u", user])), gid: Number(execFileSync("id", ["-g", user])) };
        const daemon = spawn("sleep", ["60"], { ...id, stdio: "ignore" });
        try {
          expect(() => inspect(user)).toThrow(`it has running processes (pid ${daemon.pid} sleep)`);
        } finally {
          daemon.kill("SIGKILL");
          await new Promise((r) => daemon.once("exit", r));
        }
        const agent = spawn(NODE, ["-e", "setTimeout(() => {}, 60000)"], { ...id, stdio: "ignore" });
        try {
          expect(inspect(user).existing?.name).toBe(user);
          expect(() => inspectWith(user, {}, { ...AGENT, agentNode: "/usr/sbin/another-daemon" })).toThrow(
            `running processes (pid ${agent.pid} node)`,
          );
        } finally {
          agent.kill("SIGKILL");
          await new Promise((r) => agent.once("exit", r));
        }
        // An agent whose program an upgrade replaced (dpkg renames the new file over it): still the agent's.
        const program = path.join(world.mkdir(`lib-${user}`), "node");
        copyFileSync("/bin/sleep", program);
        const old = spawn(program, ["60"], { ...id, stdio: "ignore" });
        try {
          copyFileSync("/bin/sleep", `${program}.new`);
          renameSync(`${program}.new`, program);
          expect(readlinkSync(`/proc/${old.pid}/exe`)).toBe(`${program} (deleted)`);
          expect(inspectWith(user, {}, { ...AGENT, agentNode: program }).existing?.name).toBe(user);
        } finally {
          old.kill("SIGKILL");
          await new Promise((r) => old.once("exit", r));
        }
      });

      it("refuses one that owns files where daemons keep theirs (two levels deep), but not in the agent's folders", () => {
        const user = useradd(["--system", "-U", ...nologin]);
        const uid = Number(execFileSync("id", ["-u", user]));
        const root = mkdtempSync(path.join(world.root, "host-"));
        const [etc, lib] = [path.join(root, "etc"), path.join(root, "var/lib")];
        for (const dir of [path.join(etc, "polkit-1/rules.d"), path.join(lib, "secretfile"), path.join(lib, "other")])
          mkdirSync(dir, { recursive: true });
        chownSync(path.join(lib, "secretfile"), uid, uid);
        const use = { daemonFolders: [etc, lib] };
        const agent = { ...AGENT, ownFolders: [path.join(lib, "secretfile")] };
        expect(inspectWith(user, use, agent).existing?.name).toBe(user);
        chownSync(path.join(etc, "polkit-1/rules.d"), uid, uid);
        chownSync(path.join(lib, "other"), uid, uid);
        expect(() => inspectWith(user, use, agent)).toThrow(
          `files of its own (${path.join(etc, "polkit-1/rules.d")}, ${path.join(lib, "other")})`,
        );
      });

      it("refuses one whose user or group a package's stat override names (dbus's messagebus)", () => {
        const user = useradd(["--system", "-U", ...nologin]);
        const overrides = path.join(mkdtempSync(path.join(world.root, "dpkg-")), "statoverride");
        writeFileSync(overrides, `root ${user} 4754 /usr/lib/dbus-1.0/dbus-daemon-launch-helper\n`);
        expect(() => inspectWith(user, { statOverride: overrides })).toThrow(
          `files a package gives it (${overrides}: /usr/lib/dbus-1.0/dbus-daemon-launch-helper)`,
        );
        writeFileSync(overrides, `${user} root 0700 /var/lib/thing\nroot root 0755 /x\n`);
        expect(() => inspectWith(user, { statOverride: overrides })).toThrow(`(${overrides}: /var/lib/thing)`);
      });

      // The daemons' accounts of this host, as Debian's packages make them: setup through bin/secretfile refuses each.
      const daemons = ["polkitd", "messagebus"].filter((u) => exists(u));
      it.skipIf(daemons.length === 0)(
        `refuses this host's daemons' accounts end to end (${daemons.join(", ") || "none here: polkitd and messagebus are not installed"}), nothing made`,
        async () => {
          for (const user of daemons) {
            const l = layout();
            const r = await world.run(["setup", ...l.flags(), "--user", user]);
            expect(r.code, r.stderr).toBe(4);
            expect(r.stderr).toMatch(
              new RegExp(
                `^secretfile: error: refusing the existing user ${user} as the service account: it has .*(files|processes)`,
                "m",
              ),
            );
            expect(existsSync(l.root + "/var")).toBe(false);
          }
        },
      );
    });

    it("refuses root and nobody", () => {
      expect(() => inspect("root")).toThrow(/uid 0, not a system account's/);
      expect(() => inspect("nobody")).toThrow(/uid 65534, not a system account's/);
    });

    it("refuses a login user end to end (exit 4, every role named, nothing made), and takes it with --adopt-user, loudly", async () => {
      const group = groupadd();
      const home = path.join(world.root, `home-${n}`);
      const user = useradd(["-m", "-d", home, "-k", skel(), "-s", "/bin/bash", "-G", group]);
      const l = layout();
      const r = await world.run(["setup", ...l.flags(), "--user", user]);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(
        new RegExp(
          `^secretfile: error: refusing the existing user ${user} as the service account: it has uid \\d+, not a system account's .*; the login shell /bin/bash; a home with content \\(${home}: 1 entry\\); supplementary groups \\(${group}\\); nothing was changed$`,
          "m",
        ),
      );
      expect(r.stderr).toContain(
        "secretfile: hint: the agent's account must have no other role: give setup a new name (--user secretfile-agent: setup creates it)",
      );
      expect(r.stderr).toContain("--adopt-user");
      expect(existsSync(l.root + "/var")).toBe(false);

      const adopted = await world.run(["setup", ...l.flags(), "--user", user, "--adopt-user"]);
      expect(adopted.code, adopted.stderr).toBe(0);
      expect(adopted.stderr).toContain(
        `secretfile: warning: --adopt-user: the user ${user} has the login shell /bin/bash`,
      );
      expect(adopted.stderr).toContain(
        `secretfile: warning: --adopt-user: the user ${user} has supplementary groups (${group})`,
      );
      expect(adopted.stderr).toMatch(
        new RegExp(
          `^secretfile: warning: ADOPTED the existing user ${user} .* as the service account despite its other roles`,
          "m",
        ),
      );
      expect(lstatSync(path.join(l.dir, "identity.txt")).uid).toBe(
        Number(execFileSync("id", ["-u", user], { encoding: "utf8" })),
      );
    });

    it("documents --adopt-user in setup --help", async () => {
      const r = await world.run(["setup", "--help"]);
      expect(r.stdout).toMatch(/--adopt-user +take an existing --user that has another role/);
    });
  });

  // A home folder holding one file (outside the state folder).
  function homeWithContent(): string {
    const home = mkdtempSync(path.join(world.root, "home-"));
    writeFileSync(path.join(home, ".profile"), "# a login user's\n");
    return home;
  }

  // A skeleton with one file, so the new home's content is known.
  function skel(): string {
    const dir = mkdtempSync(path.join(world.root, "skel-"));
    writeFileSync(path.join(dir, ".bashrc"), "# skel\n");
    return dir;
  }
});
