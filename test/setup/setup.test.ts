// `secretfile setup` end to end: a real service account, real owners and modes, the agent started from the result.
// Rules: everything goes into a temporary root with a unique throwaway user (removed afterwards); root-only parts
// skip with their reason when not root; the CLI runs from a world-readable copy so the service account can read it.

import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, isRoot, ROOT, runCli, tempDir, type Result } from "../helpers/cli.js";

const NOBODY = 65534;
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
const hasActivate = spawnSync("systemd-socket-activate", ["--version"]).status === 0;
const hasStrace = spawnSync("strace", ["-V"]).status === 0;

/** A temporary root holding a world-readable copy of the CLI and a system-mode layout. */
interface Layout {
  root: string;
  bin: string;
  dir: string;
  socket: string;
  policy: string;
  audit: string;
  units: string;
  flags: string[];
}

let world: { dir: string; cleanup: () => void };
let bin: string;

function layout(name: string): Layout {
  const root = path.join(world.dir, name);
  mkdirSync(root, { mode: 0o755 });
  const l = {
    root,
    bin,
    dir: path.join(root, "var/lib/secretfile"),
    socket: path.join(root, "run/secretfile/agent.sock"),
    policy: path.join(root, "etc/secretfile/policy"),
    audit: path.join(root, "var/log/secretfile/audit.log"),
    units: path.join(root, "units"),
  };
  return {
    ...l,
    flags: ["--dir", l.dir, "--socket", l.socket, "--policy", l.policy, "--audit", l.audit, "--units-dir", l.units],
  };
}

beforeAll(() => {
  // The checkout may not be readable by other uids: the service account runs this copy.
  world = tempDir("sf-setup-");
  chmodSync(world.dir, 0o755);
  const app = path.join(world.dir, "app");
  for (const part of ["dist", "bin", "package.json"])
    cpSync(path.join(ROOT, part), path.join(app, part), { recursive: true });
  execFileSync("chmod", ["-R", "a+rX", app]);
  bin = path.join(app, "bin", "secretfile");
});

afterAll(() => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when beforeAll failed or was skipped
  world?.cleanup();
});

describe("secretfile setup, not as root", () => {
  it("exits 4 with the sudo hint, and makes nothing", async () => {
    const l = layout("nonroot");
    const r = await runCli(["setup", ...l.flags, "--user", "sft_never"], {
      bin,
      ...(isRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/^secretfile: error: setup must run as root/m);
    expect(r.stderr).toContain("secretfile: hint: sudo secretfile setup");
    expect(existsSync(l.dir)).toBe(false);
    expect(existsSync(l.units)).toBe(false);
  });
});

describe.skipIf(!isRoot)(
  `secretfile setup, as root${isRoot ? "" : " (skipped: not root; it creates a user and chowns)"}`,
  () => {
    const user = `sft_${randomBytes(4).toString("hex")}`;
    let uid: number | undefined;
    let gid: number;
    let main: Layout;
    let first: Result;
    const children: ChildProcess[] = [];

    const setup = (l: Layout, extra: string[] = [], env?: NodeJS.ProcessEnv) =>
      runCli(["setup", ...l.flags, "--user", user, ...extra], { bin, env });

    beforeAll(async () => {
      main = layout("main");
      first = await setup(main);
      if (first.code !== 0) throw new Error(`setup failed (${first.code}): ${first.stderr}`);
      uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }));
      gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }));
    });

    afterAll(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      // An agent a failed test left behind (strace's tracee, say): only this test runs as this throwaway user.
      if (uid !== undefined) {
        const left = spawnSync("ps", ["-o", "pid=", "-u", String(uid)], { encoding: "utf8" })
          .stdout.split(/\s+/)
          .filter(Boolean);
        for (const pid of left) process.kill(Number(pid), "SIGKILL");
        if (left.length > 0) await new Promise((r) => setTimeout(r, 200));
      }
      const del = spawnSync("userdel", [user], { encoding: "utf8" });
      if (spawnSync("getent", ["group", user]).status === 0) spawnSync("groupdel", [user]);
      if (del.status !== 0 && spawnSync("getent", ["passwd", user]).status === 0)
        throw new Error(`cannot remove the test user ${user}: ${del.stderr}`);
    });

    it("creates a system user with no login shell and no home", () => {
      const [name, , , , , home, shell] = execFileSync("getent", ["passwd", user], { encoding: "utf8" })
        .trim()
        .split(":");
      expect(name).toBe(user);
      expect(uid).toBeLessThan(1000);
      expect(shell).toMatch(/\/nologin$/);
      expect(home).toBe("/nonexistent");
      expect(existsSync(home!)).toBe(false);
      expect(execFileSync("getent", ["group", String(gid)], { encoding: "utf8" }).split(":")[0]).toBe(user);
      expect(first.stderr).toContain(`secretfile: created the user ${user}`);
    });

    it.for([
      { what: "state folder", at: (l: Layout) => l.dir, owner: "user", mode: 0o700, dir: true },
      { what: "identity", at: (l: Layout) => path.join(l.dir, "identity.txt"), owner: "user", mode: 0o400, dir: false },
      { what: "store", at: (l: Layout) => path.join(l.dir, "store.age"), owner: "user", mode: 0o600, dir: false },
      { what: "policy folder", at: (l: Layout) => path.dirname(l.policy), owner: "root", mode: 0o755, dir: true },
      { what: "policy", at: (l: Layout) => l.policy, owner: "root", mode: 0o644, dir: false },
      { what: "audit folder", at: (l: Layout) => path.dirname(l.audit), owner: "user", mode: 0o700, dir: true },
      { what: "socket folder", at: (l: Layout) => path.dirname(l.socket), owner: "user", mode: 0o755, dir: true },
      {
        what: "service unit",
        at: (l: Layout) => path.join(l.units, "secretfile.service"),
        owner: "root",
        mode: 0o644,
        dir: false,
      },
      {
        what: "socket unit",
        at: (l: Layout) => path.join(l.units, "secretfile.socket"),
        owner: "root",
        mode: 0o644,
        dir: false,
      },
    ])("makes the $what with its documented owner and mode", ({ at, owner, mode, dir }) => {
      const st = lstatSync(at(main));
      expect(dir ? st.isDirectory() : st.isFile()).toBe(true);
      expect((st.mode & 0o7777).toString(8)).toBe(mode.toString(8));
      expect([st.uid, st.gid]).toEqual(owner === "root" ? [0, 0] : [uid, gid]);
    });

    it("writes a policy with every rule commented out, which the validator accepts", async () => {
      const text = readFileSync(main.policy, "utf8");
      expect(text.split("\n").every((line) => line === "" || line.startsWith("#"))).toBe(true);
      expect(text).toMatch(/^# read +user:netops/m);
      const r = await runCli(["policy", "check", main.policy], { bin });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("ok (0 rules)");
    });

    it("makes a store the service account can decrypt", async () => {
      const r = await runCli(["ls", "--json", "--dir", main.dir], { bin, uid: uid, gid: gid });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([]);
    });

    it("changes nothing when run again, and says what it kept", async () => {
      const files = [
        path.join(main.dir, "identity.txt"),
        path.join(main.dir, "store.age"),
        main.policy,
        path.join(main.units, "secretfile.service"),
      ];
      const before = files.map((f) => readFileSync(f));
      const again = await setup(main, ["--pq"]);
      expect(again.code, again.stderr).toBe(0);
      expect(files.map((f) => readFileSync(f))).toEqual(before);
      expect(again.stderr).not.toMatch(/^secretfile: (created|updated|fixed) /m);
      for (const kept of [`the user ${user}`, "the identity", "the store", "the policy ", "the unit "])
        expect(again.stderr).toContain(`secretfile: kept ${kept}`);
      expect(again.stderr).toContain("--pq ignored");
    });

    it("starts an agent from what it made, which answers root on the socket", async () => {
      const agent = spawnAs([
        "/usr/bin/node",
        bin,
        "agent",
        "--dir",
        main.dir,
        "--socket",
        main.socket,
        "--policy",
        main.policy,
        "--audit",
        main.audit,
      ]);
      await agent.waitFor("serving");
      const add = await runCli(["add", "SETUP_PROBE", "--socket", main.socket], { bin, input: "v4lue\n" });
      expect(add.code, add.stderr).toBe(0);
      const ls = await runCli(["ls", "--json", "--socket", main.socket], { bin });
      expect(ls.code, ls.stderr).toBe(0);
      expect((JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name)).toEqual(["SETUP_PROBE"]);
      await agent.stop();
      expect(lstatSync(main.audit).uid).toBe(uid);
    });

    it.skipIf(!hasActivate)(
      "serves through socket activation (systemd-socket-activate, as the service account)",
      async () => {
        const socket = path.join(path.dirname(main.socket), "activated.sock");
        const agent = spawnAs([
          "systemd-socket-activate",
          "-l",
          socket,
          "/usr/bin/node",
          bin,
          "agent",
          "--dir",
          main.dir,
          "--socket",
          main.socket,
          "--policy",
          main.policy,
          "--audit",
          main.audit,
        ]);
        await agent.waitFor("Listening on");
        const ls = await runCli(["ls", "--socket", socket], { bin });
        expect(ls.code, ls.stderr).toBe(0);
        await agent.waitFor("on the socket systemd passed");
        await agent.stop();
      },
    );

    it.skipIf(!hasAnalyze)("writes units that systemd-analyze verify accepts", () => {
      const r = spawnSync(
        "systemd-analyze",
        ["verify", path.join(main.units, "secretfile.socket"), path.join(main.units, "secretfile.service")],
        { encoding: "utf8" },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
      const service = readFileSync(path.join(main.units, "secretfile.service"), "utf8");
      // node with the agent's V8 flags (src/setup/agent-node-flags.json), then the launcher
      const flags = (
        JSON.parse(readFileSync(path.join(ROOT, "src", "setup", "agent-node-flags.json"), "utf8")) as string[]
      ).join(" ");
      expect(flags).toMatch(/^--/);
      expect(service).toContain(
        `ExecStart=/usr/bin/node ${flags} ${bin} agent --dir ${main.dir} --socket ${main.socket} --policy ${main.policy} --audit ${main.audit}\n`,
      );
      expect(service).toContain(`User=${user}\nGroup=${user}\n`);
      expect(service).not.toMatch(/^(MemoryDenyWriteExecute|PrivateUsers|ProtectProc)=/m);
      expect(readFileSync(path.join(main.units, "secretfile.socket"), "utf8")).toContain(
        `ListenStream=${main.socket}\nSocketUser=${user}\n`,
      );
    });

    it.skipIf(!hasAnalyze)(
      "hardens the service to an exposure of at most 2.5 (systemd-analyze security --offline)",
      () => {
        const r = spawnSync(
          "systemd-analyze",
          ["security", "--offline=true", "--no-pager", path.join(main.units, "secretfile.service")],
          { encoding: "utf8" },
        );
        const level = /Overall exposure level for secretfile\.service: (\d+\.\d+)/.exec(r.stdout);
        expect(level, r.stdout + r.stderr).not.toBeNull();
        expect(Number(level![1])).toBeLessThanOrEqual(2.5);
      },
    );

    it.skipIf(!hasAnalyze || !hasActivate || !hasStrace)(
      "runs an agent whose system calls the unit's SystemCallFilter all allows (strace)",
      async () => {
        const socket = path.join(path.dirname(main.socket), "traced.sock");
        const trace = path.join(world.dir, "agent.trace");
        const agent = spawnAs(
          [
            "strace",
            "-f",
            "-qq",
            "-o",
            trace,
            "systemd-socket-activate",
            "-l",
            socket,
            "/usr/bin/node",
            bin,
            "agent",
            "--dir",
            main.dir,
            "--socket",
            main.socket,
            "--policy",
            main.policy,
            "--audit",
            main.audit,
          ],
          { asRoot: true },
        );
        await agent.waitFor("Listening on");
        chmodSync(socket, 0o666); // SocketMode=0666 in the unit
        const steps = [["add", "TRACED"], ["get", "TRACED"], ["ls"], ["rm", "TRACED"]];
        for (const args of steps) {
          const r = await runCli([...args, "--socket", socket], { bin, input: "x\n" });
          expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
        }
        const denied = await runCli(["get", "FOO", "--socket", socket], { bin, uid: NOBODY, gid: NOBODY });
        expect(denied.code, denied.stderr).toBe(4);
        // strace -o blocks fatal signals: stop the agent itself, and strace ends with it.
        process.kill(Number(/agent (\d+) serving/.exec(agent.output())![1]), "SIGTERM");
        await agent.exited;
        // Only what runs after systemd would have applied the filter: from node's execve on.
        const lines = readFileSync(trace, "utf8").split("\n");
        const start = lines.findIndex((l) => /execve\("\/usr\/bin\/node"/.test(l));
        expect(start).toBeGreaterThan(-1);
        const used = new Set(lines.slice(start).flatMap((l) => /^\d+ +([a-z0-9_]+)\(/.exec(l)?.[1] ?? []));
        expect(used.has("getsockopt") && used.has("accept4")).toBe(true);
        const allowed = syscallsAllowedBy(readFileSync(path.join(main.units, "secretfile.service"), "utf8"));
        expect([...used].filter((call) => !allowed.has(call))).toEqual([]);
      },
    );

    it("makes a post-quantum identity with --pq, paths from the environment", async () => {
      const l = layout("pq");
      const env = cleanEnv({
        SECRETFILE_DIR: l.dir,
        SECRETFILE_SOCKET: l.socket,
        SECRETFILE_POLICY: l.policy,
        SECRETFILE_AUDIT: l.audit,
      });
      const r = await runCli(["setup", "--units-dir", l.units, "--user", user, "--pq"], { bin, env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`secretfile: kept the user ${user}`);
      expect(readFileSync(path.join(l.dir, "identity.txt"), "utf8")).toMatch(/^AGE-SECRET-KEY-PQ-1/m);
      const ls = await runCli(["ls", "--dir", l.dir], { bin, uid: uid, gid: gid });
      expect(ls.code, ls.stderr).toBe(0);
    });

    it("refuses an identity without its store, and keeps the identity", async () => {
      const l = layout("orphan");
      expect((await setup(l)).code).toBe(0);
      const identity = readFileSync(path.join(l.dir, "identity.txt"));
      execFileSync("rm", [path.join(l.dir, "store.age")]);
      const r = await setup(l);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /error: as sft_\w+: the identity .*identity\.txt exists but the store .*store\.age does not/,
      );
      expect(r.stderr).toContain("secretfile: hint: restore store.age from a backup");
      expect(readFileSync(path.join(l.dir, "identity.txt"))).toEqual(identity);
    });

    it("refuses an existing policy the agent would refuse (exit 4), and leaves it as it is", async () => {
      const l = layout("badpolicy");
      mkdirSync(path.dirname(l.policy), { recursive: true, mode: 0o755 });
      writeFileSync(l.policy, "read user:root *\n", { mode: 0o666 });
      chmodSync(l.policy, 0o666);
      const r = await setup(l);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain("lets group and others write it");
      expect(lstatSync(l.policy).mode & 0o777).toBe(0o666);
      expect(existsSync(path.join(l.units, "secretfile.service"))).toBe(false);
    });

    it("refuses, with a hint, a launcher the service account cannot read (the agent could not run it either)", async () => {
      const hidden = path.join(world.dir, "hidden");
      mkdirSync(hidden, { mode: 0o700 });
      for (const part of ["dist", "bin", "package.json"])
        cpSync(path.join(bin, "../..", part), path.join(hidden, part), { recursive: true });
      const l = layout("unreadable");
      const r = await runCli(["setup", ...l.flags, "--user", user], { bin: path.join(hidden, "bin", "secretfile") });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `secretfile: error: the service account ${user} cannot run ${path.join(hidden, "bin", "secretfile")}`,
      );
      expect(r.stderr).toContain("secretfile: hint: the agent runs as");
      expect(existsSync(path.join(l.dir, "identity.txt"))).toBe(false);
    });

    // Starts `argv` as the service account (strace runs as root and drops to it with -u); its output is watched for text.
    function spawnAs(argv: string[], opts: { asRoot?: boolean } = {}) {
      const [file, ...args] = opts.asRoot ? [argv[0]!, "-u", user, ...argv.slice(1)] : argv;
      const ids = opts.asRoot ? {} : { uid, gid };
      const child = spawn(file!, args, { ...ids, env: cleanEnv(), cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
      children.push(child);
      let out = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
      child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      return {
        output: () => out,
        exited,
        waitFor: (text: string) =>
          new Promise<void>((resolve, reject) => {
            const started = Date.now();
            const poll = () => {
              if (out.includes(text)) {
                resolve();
                return;
              }
              if (child.exitCode !== null || Date.now() - started > 15_000) {
                reject(new Error(`no ${JSON.stringify(text)}; output: ${out}`));
                return;
              }
              setTimeout(poll, 20);
            };
            poll();
          }),
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      };
    }
  },
);

/** The system calls a unit's SystemCallFilter= lines allow, groups expanded by systemd-analyze syscall-filter. */
function syscallsAllowedBy(unit: string): Set<string> {
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of execFileSync("systemd-analyze", ["syscall-filter", "--no-pager"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).split("\n")) {
    const item = line.trim().split(/\s+/)[0] ?? "";
    if (line.startsWith("@")) groups.set(item, (current = []));
    else if (item !== "" && !item.startsWith("#")) current?.push(item);
  }
  const expand = (name: string): string[] => (name.startsWith("@") ? (groups.get(name) ?? []).flatMap(expand) : [name]);
  const allowed = new Set<string>();
  for (const [, value] of unit.matchAll(/^SystemCallFilter=(.*)$/gm)) {
    const deny = value!.startsWith("~");
    for (const name of value!.replace(/^~/, "").trim().split(/\s+/).flatMap(expand)) {
      if (deny) allowed.delete(name);
      else allowed.add(name);
    }
  }
  return allowed;
}
