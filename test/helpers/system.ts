// System-mode worlds for end-to-end tests: a copy of the built CLI every uid can run, throwaway users and groups,
// and agents run as a service account. Rules: root only (callers skip with describe.skipIf(!isRoot)); everything a
// world creates (users, groups, folders, agents) is removed in afterAll; only processes started here are stopped.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, inject } from "vitest";
import { cleanEnv, collect, NODE, ROOT, type Result } from "./cli.js";
import { copyApp } from "./global-setup.js";

export { NODE } from "./cli.js";
/** Why system-mode tests are skipped when not root. */
export const NEEDS_ROOT = "needs root to create users and run processes under their uids (CI runs as root)";

/** A user made for one test file. */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** A group made for one test file. */
export interface TestGroup {
  name: string;
  gid: number;
}

/** A world-readable copy of the CLI and a folder to put everything else in. */
export interface World {
  /** A fresh folder, mode 0755, every parent traversable. */
  root: string;
  /** The copied package (dist/, bin/, package.json), shared by every file of the run: read only. */
  app: string;
  /** `<app>/bin/secretfile`. */
  bin: string;
  /** Copies `test/fixtures/<name>` into the world (mode 0755); returns its path. */
  fixture(name: string): string;
  /** Makes a folder (and its parents) with `mode`, owned by `owner` (root when omitted); returns its path. */
  mkdir(rel: string, mode?: number, owner?: TestUser): string;
  /** Runs `secretfile ARGS` from the copy with /usr/bin/node, as `opts.as` (root when omitted). */
  run(args: string[], opts?: SysRunOptions): Promise<RunResult>;
  /** Removes the folder. */
  cleanup(): void;
}

/** How to run the CLI in a world. */
export interface SysRunOptions {
  as?: TestUser;
  /** Laid over a clean environment (no SECRETFILE_*, HOME in the world). */
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
}

/** A finished CLI run and the pid it had (the audit log records it). */
export interface RunResult extends Result {
  pid: number;
}

/**
 * Makes a new world-readable folder around the run's shared copy of the built CLI (made once by global-setup.ts, or
 * here when the run has none). Throws when a parent folder is not traversable by other users.
 */
export function makeWorld(): World {
  const root = mkdtempSync(path.join(os.tmpdir(), "secretfile-sys-"));
  chmodSync(root, 0o755);
  const shared = inject("sharedApp") as string | undefined;
  const app = shared ?? copyApp();
  for (const start of [root, app]) {
    for (let dir = path.dirname(start); dir !== "/"; dir = path.dirname(dir)) {
      const mode = spawnSync("stat", ["-c", "%a", dir], { encoding: "utf8" }).stdout.trim();
      if ((parseInt(mode, 8) & 0o001) === 0)
        throw new Error(`${dir} is not traversable by other users (mode ${mode}); set TMPDIR elsewhere`);
    }
  }
  const bin = path.join(app, "bin", "secretfile");
  const world: World = {
    root,
    app,
    bin,
    fixture: (name) => {
      const dest = path.join(root, name);
      cpSync(path.join(ROOT, "test", "fixtures", name), dest);
      chmodSync(dest, 0o755);
      return dest;
    },
    mkdir: (rel, mode = 0o755, owner) => {
      const dir = path.join(root, rel);
      mkdirSync(dir, { recursive: true });
      if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
      chmodSync(dir, mode);
      return dir;
    },
    run: (args, opts = {}) => {
      const env = cleanEnv({ HOME: root, ...opts.env });
      delete env.XDG_CONFIG_HOME;
      const child = spawn(NODE, [bin, ...args], {
        env,
        cwd: root,
        stdio: ["pipe", "pipe", "pipe"],
        ...(opts.as === undefined ? {} : { uid: opts.as.uid, gid: opts.as.gid }),
      });
      const pid = child.pid ?? -1;
      return collect(child, opts.input, opts.timeoutMs).then((r) => ({ ...r, pid }));
    },
    cleanup: () => {
      rmSync(root, { recursive: true, force: true });
      if (shared === undefined) rmSync(path.dirname(app), { recursive: true, force: true });
    },
  };
  return world;
}

/** Returns a uid (with the same gid) that has neither a passwd nor a group entry. */
export function unusedId(): TestUser {
  for (;;) {
    const id = 61000 + Math.floor(Math.random() * 4000);
    if (
      spawnSync("getent", ["passwd", String(id)]).status !== 0 &&
      spawnSync("getent", ["group", String(id)]).status !== 0
    ) {
      return { name: `uid ${id}`, uid: id, gid: id };
    }
  }
}

/** Users and groups made for one test file, by role. */
export interface Users<U extends string, G extends string> {
  users: Record<U, TestUser>;
  groups: Record<G, TestGroup>;
  /** Removes every user and group made (their crontabs first). */
  remove(): void;
}

/**
 * Makes one user per role (named `sft_<hex>`, a private group of the same name, shell /usr/sbin/nologin, home `home`
 * without creating it) and the `groups` (each listing the roles that are supplementary members).
 */
export function makeUsers<U extends string, G extends string = never>(
  roles: readonly U[],
  opts: { groups?: Record<G, readonly U[]>; home?: string } = {},
): Users<U, G> {
  const made: { users: string[]; groups: string[] } = { users: [], groups: [] };
  // Best effort for each, so one failure does not leave the others behind; the first failure is thrown at the end.
  const remove = () => {
    const failures: unknown[] = [];
    const attempt = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        failures.push(err);
      }
    };
    for (const name of made.users) {
      spawnSync("crontab", ["-r", "-u", name], { stdio: "ignore" });
      attempt(() => retry(["userdel", name], ["userdel", "-f", name]));
    }
    for (const name of made.groups)
      attempt(() => spawnSync("getent", ["group", name]).status === 0 && retry(["groupdel", name]));
    made.users.length = 0;
    made.groups.length = 0;
    if (failures.length > 0) throw failures[0];
  };
  try {
    const groups = {} as Record<G, TestGroup>;
    for (const key of Object.keys(opts.groups ?? {}) as G[]) {
      const name = uniqueName();
      retry(["groupadd", name]);
      made.groups.push(name);
      groups[key] = { name, gid: Number(must("getent", ["group", name]).split(":")[2]) };
    }
    const users = {} as Record<U, TestUser>;
    for (const role of roles) {
      const name = uniqueName();
      const extra = (Object.entries(opts.groups ?? {}) as [G, readonly U[]][])
        .filter(([, members]) => members.includes(role))
        .map(([g]) => groups[g].name);
      const args = [
        "-M",
        "-d",
        opts.home ?? "/nonexistent",
        "-s",
        "/usr/sbin/nologin",
        "-U",
        ...(extra.length ? ["-G", extra.join(",")] : []),
        name,
      ];
      retry(["useradd", ...args]);
      made.users.push(name);
      users[role] = {
        name,
        uid: Number(must("id", ["-u", name]).trim()),
        gid: Number(must("id", ["-g", name]).trim()),
      };
    }
    return { users, groups, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** A root-owned policy file, a service-owned state folder with a store, socket and audit paths for one agent. */
export interface AgentFiles {
  /** The folder holding everything below. */
  base: string;
  /** The state folder (identity.txt, store.age), service-owned, 0700. */
  dir: string;
  socket: string;
  policy: string;
  audit: string;
}

let agentCount = 0;

/**
 * Prepares an agent's files in `world`: the store is made with `secretfile init --dir` and `add` run as `service`,
 * the policy is written root-owned 0644, the socket folder (0755) and audit folder (0700) are service-owned.
 */
export async function prepareAgent(
  world: World,
  service: TestUser,
  spec: { policyText: string; secrets?: Record<string, string> },
): Promise<AgentFiles> {
  const base = world.mkdir(`agent-${++agentCount}`, 0o755);
  const dir = world.mkdir(`agent-${agentCount}/state`, 0o700, service);
  world.mkdir(`agent-${agentCount}/run`, 0o755, service);
  world.mkdir(`agent-${agentCount}/log`, 0o700, service);
  world.mkdir(`agent-${agentCount}/etc`, 0o755);
  const files: AgentFiles = {
    base,
    dir,
    socket: path.join(base, "run", "agent.sock"),
    policy: path.join(base, "etc", "policy"),
    audit: path.join(base, "log", "audit.log"),
  };
  writePolicy(files.policy, spec.policyText);
  const init = await world.run(["init", "--dir", dir], { as: service });
  if (init.code !== 0) throw new Error(`init as ${service.name} failed (${init.code}): ${init.stderr}`);
  for (const [name, value] of Object.entries(spec.secrets ?? {})) {
    const add = await world.run(["add", "--dir", dir, name], { as: service, input: value });
    if (add.code !== 0) throw new Error(`add ${name} as ${service.name} failed (${add.code}): ${add.stderr}`);
  }
  return files;
}

/** Replaces a policy file atomically with `text`, root-owned, mode 0644 (a rename, as configuration management does). */
export function writePolicy(file: string, text: string): void {
  const tmp = `${file}.tmp-${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  chownSync(tmp, 0, 0);
  chmodSync(tmp, 0o644);
  renameSync(tmp, file);
}

/** An agent process. */
export interface AgentProcess {
  pid: number;
  /** Its standard error so far. */
  stderr(): string;
  /** Resolves with its exit code and signal when it ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Sends `signal` if it is still running. */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has ended. */
  stop(): Promise<void>;
}

/** The node an agent runs on, and its flags (as the units give them). */
export interface AgentNode {
  path: string;
  flags: readonly string[];
}

/**
 * Spawns `secretfile agent` for `files` as `service` on `node`, with `env` laid over a clean environment; returns at
 * once.
 */
export function spawnAgent(
  world: World,
  service: TestUser,
  files: AgentFiles,
  env: NodeJS.ProcessEnv = {},
  node: AgentNode = { path: NODE, flags: [] },
): AgentProcess {
  const child = spawn(
    node.path,
    [
      ...node.flags,
      world.bin,
      "agent",
      "--dir",
      files.dir,
      "--socket",
      files.socket,
      "--policy",
      files.policy,
      "--audit",
      files.audit,
    ],
    {
      env: cleanEnv({ HOME: world.root, ...env }),
      cwd: world.root,
      uid: service.uid,
      gid: service.gid,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  return {
    pid: child.pid!,
    stderr: () => stderr,
    exited,
    alive: () => !done,
    kill: (signal) => {
      if (!done) child.kill(signal);
    },
    stop: async () => {
      if (done) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves once the agent on `socket` answers a ping; throws with its stderr if it ends first or takes over `ms`. */
export async function untilReady(proc: AgentProcess, socket: string, ms = 15_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (!proc.alive())
      throw new Error(`the agent ended before answering (${JSON.stringify(await proc.exited)}): ${proc.stderr()}`);
    const answer = await request(socket, { v: 1, op: "ping" }, 2_000).catch(() => undefined);
    if (answer?.ok === true) return;
    if (Date.now() - started > ms) {
      await proc.stop();
      throw new Error(`the agent did not answer within ${ms} ms: ${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A running agent with its files. */
export interface RunningAgent extends AgentFiles, AgentProcess {
  /** Same as `audit`: the audit log's path. */
  auditPath: string;
  /** Runs the CLI against this agent (SECRETFILE_SOCKET set). */
  run(args: string[], opts?: SysRunOptions): Promise<RunResult>;
  /** The audit log's lines, parsed. */
  auditLines(): Record<string, unknown>[];
}

/** Prepares and starts an agent as `service`; resolves once its socket answers a ping. Throws with its stderr if it ends first. */
export async function startAgent(
  world: World,
  service: TestUser,
  spec: { policyText: string; secrets?: Record<string, string> },
): Promise<RunningAgent> {
  const files = await prepareAgent(world, service, spec);
  const proc = spawnAgent(world, service, files);
  await untilReady(proc, files.socket);
  return {
    ...files,
    ...proc,
    auditPath: files.audit,
    run: (args, opts = {}) => world.run(args, { ...opts, env: { SECRETFILE_SOCKET: files.socket, ...opts.env } }),
    auditLines: () =>
      readFileSync(files.audit, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/**
 * Sends one request line (an object is JSON-encoded) on a new connection; resolves with the first answer line, parsed
 * (unchecked: `ok` is whatever the agent sent, so tests compare it with `=== true` / `=== false`).
 */
export function request(socket: string, req: object | string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let buf = "";
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`no answer from ${socket} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding("utf8");
    conn.on("connect", () => conn.write(typeof req === "string" ? req : `${JSON.stringify(req)}\n`));
    conn.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl === -1) return;
      clearTimeout(timer);
      conn.destroy();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      } catch (err) {
        reject(err);
      }
    });
    conn.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    conn.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`${socket} closed the connection without answering`));
    });
  });
}

/** Returns the resident set size of `pid` in KiB, from /proc/PID/status. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** One test file's system world: made in beforeAll, torn down (agents, users, folder) in afterAll. */
export interface SystemContext<U extends string, G extends string> {
  readonly world: World;
  readonly users: Record<U | "service", TestUser>;
  readonly groups: Record<G, TestGroup>;
  /** Starts an agent as the service user; it is stopped in afterAll if the test did not. */
  startAgent(spec: { policyText: string; secrets?: Record<string, string> }): Promise<RunningAgent>;
  /**
   * Spawns an agent on prepared files as the service user (for start-up failures), with `env` and on `node` when given;
   * stopped in afterAll.
   */
  spawnAgent(files: AgentFiles, env?: NodeJS.ProcessEnv, node?: AgentNode): AgentProcess;
}

/**
 * Registers beforeAll/afterAll hooks that make a world, a `service` user plus `roles`, and `groups` (role lists of
 * supplementary members); call it at the top of a describe that is skipped when not root.
 */
export function useSystem<U extends string, G extends string = never>(
  roles: readonly U[],
  groups?: Record<G, readonly U[]>,
): SystemContext<U, G> {
  let world: World | undefined;
  let made: Users<U | "service", G> | undefined;
  const agents: AgentProcess[] = [];
  beforeAll(() => {
    world = makeWorld();
    made = makeUsers<U | "service", G>(["service", ...roles], { groups, home: world.root });
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    made?.remove();
    world?.cleanup();
  });
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error("the system world is made in beforeAll");
    return v;
  };
  return {
    get world() {
      return need(world);
    },
    get users() {
      return need(made).users;
    },
    get groups() {
      return need(made).groups;
    },
    startAgent: async (spec) => {
      const agent = await startAgent(need(world), need(made).users.service, spec);
      agents.push(agent);
      return agent;
    },
    spawnAgent: (files, env, node) => {
      const agent = spawnAgent(need(world), need(made).users.service, files, env, node);
      agents.push(agent);
      return agent;
    },
  };
}

function uniqueName(): string {
  return `sft_${randomBytes(4).toString("hex")}`;
}

/** Runs a command and returns its stdout; throws with its stderr when it fails. */
function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** Runs a user-database command, retrying while another process holds /etc/passwd's lock; `fallback` runs last. */
function retry(argv: string[], fallback?: string[]): void {
  let last = "";
  for (let attempt = 0; attempt < 40; attempt++) {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    if (r.status === 0) return;
    last = r.stderr;
    if (!/lock|try again/i.test(r.stderr)) break;
    spawnSync("sleep", ["0.25"]);
  }
  if (fallback !== undefined && spawnSync(fallback[0]!, fallback.slice(1)).status === 0) return;
  throw new Error(`${argv.join(" ")} failed: ${last}`);
}
