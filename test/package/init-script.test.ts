// The init script (packaging/init.d/secretfile) run as root against a temporary root, the service account a real test
// user: the service account's symlinks in its own folders change nothing outside them, the agent's messages (the audit
// chain's head among them) are in a file only root writes, and a failed start says why.
// Rules: root only; only processes started here are stopped; every wait is the script's own (its start and stop have
// deadlines) or has one here.

import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { INIT_SCRIPT_FILES, renderInitScript } from "../../build/init-script.mjs";
import { isRoot, ROOT } from "../helpers/cli.js";
import { NEEDS_ROOT, NODE, prepareAgent, request, useSystem, type AgentFiles } from "../helpers/system.js";
import { AGENT_NODE_FLAGS } from "../../src/setup/units.js";
import { SYSTEM_PATHS } from "../../src/system/paths.js";

const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", SYSTEMCTL_SKIP_REDIRECT: "1" };

describe("the package's init script", () => {
  it("keeps its pidfile and the agent's messages out of every folder the service account owns", () => {
    const service = [SYSTEM_PATHS.dir, path.dirname(SYSTEM_PATHS.socket), path.dirname(SYSTEM_PATHS.audit)];
    for (const file of Object.values(INIT_SCRIPT_FILES))
      for (const dir of service) expect(path.relative(dir, file).startsWith(".."), `${file} in ${dir}`).toBe(true);
  });
});

describe.skipIf(!isRoot)(`the init script against a temporary root (${NEEDS_ROOT})`, () => {
  const sys = useSystem([]);
  let files: AgentFiles;
  let script = "";
  let pidfile = "";
  let log = "";
  let victim = "";
  const init = (action: string) =>
    spawnSync("/bin/sh", [script, action], { encoding: "utf8", env: ENV, timeout: 60_000, killSignal: "SIGKILL" });
  const ok = (r: ReturnType<typeof init>) =>
    expect({ status: r.status, out: r.status === 0 ? "" : r.stdout + r.stderr }).toEqual({ status: 0, out: "" });
  const asService = (cmd: string, ...args: string[]) =>
    spawnSync(cmd, args, { encoding: "utf8", uid: sys.users.service.uid, gid: sys.users.service.gid, env: ENV });

  beforeAll(async () => {
    files = await prepareAgent(sys.world, sys.users.service, { policyText: "", secrets: { API_KEY: "the-key" } });
    // /run and /var/log of this root: root's, 0755.
    pidfile = path.join(sys.world.mkdir("root-run"), "secretfile.pid");
    log = path.join(sys.world.mkdir("root-log"), "secretfile-agent.log");
    script = path.join(sys.world.root, "secretfile.init");
    const template = readFileSync(path.join(ROOT, "packaging/init.d/secretfile"), "utf8");
    writeFileSync(
      script,
      renderInitScript(template, {
        node: NODE,
        nodeFlags: AGENT_NODE_FLAGS,
        launcher: sys.world.bin,
        user: sys.users.service.name,
        paths: files,
        pidfile,
        log,
        version: "test",
      }),
      { mode: 0o755 },
    );
    // What a link of the service account's could point at: root's files and folders (as /etc and /etc/ld.so.preload).
    victim = sys.world.mkdir("victim");
    writeFileSync(path.join(victim, "passwd"), "root's own\n", { mode: 0o644 });
    mkdirSync(path.join(victim, "cron.d"), { mode: 0o755 });
  });

  it("follows no symlink the service account plants in its folders, and moves nothing out of them", async () => {
    // Every name the script (of any version) touches, in every folder the service account owns, as links to root's files.
    const folders = [files.dir, path.dirname(files.socket), path.dirname(files.audit)];
    const names = ["agent.log", "agent.log.1", "agent.pid", path.basename(log), path.basename(pidfile)];
    const targets = [
      path.join(victim, "ld.so.preload"),
      path.join(victim, "passwd"),
      path.join(victim, "cron.d"),
      path.join(victim, "new"),
      path.join(victim, "cron.d", "job"),
    ];
    for (const dir of folders)
      names.forEach((name, i) => {
        const r = asService("ln", "-sfn", targets[i]!, path.join(dir, name));
        expect(r.status, r.stderr).toBe(0);
      });
    const before = tree(victim);
    ok(init("start"));
    expect((await request(files.socket, { v: 1, op: "ping" })).ok).toBe(true);
    ok(init("restart"));
    ok(init("status"));
    ok(init("stop"));
    expect(tree(victim)).toEqual(before);
  });

  it("keeps the agent's messages, the audit chain's head at start and stop among them, where the service account cannot write", async () => {
    ok(init("start"));
    const pid = Number(readFileSync(pidfile, "utf8"));
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\t${sys.users.service.uid}\\t`, "m"));
    // The agent holds no descriptor of the file: its messages reach it through a pipe root reads.
    const fds = readdirSync(`/proc/${pid}/fd`).map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
    expect(fds.filter((target) => target.startsWith("/"))).not.toContain(log);
    expect(fds.filter((target) => target.startsWith("pipe:")).length).toBeGreaterThan(0);
    for (const [file, owner] of [
      [log, 0],
      [pidfile, 0],
      [path.dirname(log), 0],
    ] as const) {
      const st = lstatSync(file);
      expect({ file, uid: st.uid, groupOrOthersWrite: (st.mode & 0o022) !== 0 }).toEqual({
        file,
        uid: owner,
        groupOrOthersWrite: false,
      });
    }
    expect(asService("sh", "-c", `: >> '${log}'`).status).not.toBe(0);
    const started = await until(() => /continues from sha256 ([0-9a-f]{64})/.exec(readFileSync(log, "utf8")));
    ok(init("stop"));
    // Written by the root shell once the agent's last words come through the pipe.
    const ended = await until(() => /ends at sha256 ([0-9a-f]{64})/.exec(readFileSync(log, "utf8")));
    expect([started[1], ended[1]]).toEqual([
      expect.stringMatching(/^[0-9a-f]{64}$/),
      expect.stringMatching(/^[0-9a-f]{64}$/),
    ]);
    expect(existsSync(pidfile)).toBe(false);
  });

  it("a failed start says why (the agent's last words) and exits 1", () => {
    chmodSync(files.policy, 0o666);
    try {
      const r = init("start");
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(files.policy);
    } finally {
      chmodSync(files.policy, 0o644);
    }
  });
});

// Every entry under `dir`: its kind, owner, mode, and content or link target.
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      const what = st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isFile() ? readFileSync(p, "utf8") : "folder";
      out[path.relative(dir, p)] = `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)} ${what}`;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

// Resolves with the first truthy value of `check`, tried every 20 ms; throws after 15 s.
async function until<T>(check: () => T | Promise<T>): Promise<NonNullable<T>> {
  const end = Date.now() + 15_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`the condition did not hold within 15 s: ${String(check)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
