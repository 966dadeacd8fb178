// Agents for the bench: `secretfile agent` over a copy of a store, under its own socket, policy and audit log, and a
// minimal reference server on the same protocol. Rules: the policy is root-owned 0644 and the state folder 0700, as
// the agent demands; only processes started here are stopped, by their pid.

import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import agentNodeFlags from "../src/setup/agent-node-flags.json" with { type: "json" };
import { copyStore } from "./prepare.mjs";
import { baseEnv, sleep } from "./procs.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * The bench's clients are all one uid (the load generator's), which the agent's per-uid rate (2,000 requests a second
 * by default, bursts of 4,000) would answer `busy` past that rate: the bench measures what the agent can serve, so
 * it lifts that limit, and the uid's budget of audit bytes a minute (16 MiB by default), which at its rate it would
 * spend in seconds (the other limits stay at their defaults).
 */
const LIMITS_VARIABLE = "SECRETFILE_AGENT_LIMITS";
export const BENCH_LIMITS = "ratePerUid=1000000,burstPerUid=1000000,auditBytesPerUid=1000000000";

/**
 * The user the clients run as: `nobody` when it exists (so the agent resolves a real user and checks a real rule),
 * else this process's own user. Returns { name, uid, gid, as } where `as` is undefined for this process's user.
 */
export function callerUser() {
  const id = (flag) => spawnSync("id", [flag, "nobody"], { encoding: "utf8" });
  const u = id("-u");
  const g = id("-g");
  if (process.getuid?.() === 0 && u.status === 0 && g.status === 0) {
    const uid = Number(u.stdout.trim());
    const gid = Number(g.stdout.trim());
    return { name: "nobody", uid, gid, as: { uid, gid } };
  }
  return {
    name: String(process.getuid?.() ?? "me"),
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    as: undefined,
  };
}

/** Sends one request line on a new connection; resolves with the parsed answer, rejects on error or timeout. */
export function ask(socket, req, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let buf = "";
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`no answer from ${socket} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding("utf8");
    conn.on("connect", () => conn.write(`${JSON.stringify(req)}\n`));
    conn.on("data", (d) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl === -1) return;
      clearTimeout(timer);
      conn.destroy();
      try {
        resolve(JSON.parse(buf.slice(0, nl)));
      } catch (err) {
        reject(err);
      }
    });
    conn.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Starts a child and returns { pid, stderr(), alive(), stop() }: SIGTERM, SIGKILL after 5 s. */
function track(child) {
  let stderr = "";
  let done = false;
  child.stdout?.resume();
  child.stderr?.setEncoding("utf8").on("data", (d) => (stderr.length < 20_000 ? (stderr += d) : undefined));
  const exited = new Promise((resolve) =>
    child.once("close", (code, signal) => ((done = true), resolve({ code, signal }))),
  );
  return {
    pid: child.pid,
    exited,
    stderr: () => stderr,
    alive: () => !done,
    stop: async () => {
      if (done) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForPing(proc, socket, what) {
  const started = Date.now();
  for (;;) {
    if (!proc.alive())
      throw new Error(`${what} ended before answering (${JSON.stringify(await proc.exited)}): ${proc.stderr().trim()}`);
    const answer = await ask(socket, { v: 1, op: "ping" }, 1_000).catch(() => undefined);
    if (answer?.ok === true) return;
    if (Date.now() - started > 30_000) {
      await proc.stop();
      throw new Error(`${what} did not answer within 30 s: ${proc.stderr().trim()}`);
    }
    await sleep(50);
  }
}

/**
 * Starts `secretfile agent` (as this process's user, root in the bench) over a copy of `store` in `<base>/<label>/`,
 * with a policy that lets `caller` read every name. Resolves with { label, pid, socket, secrets, stop, … } once it answers.
 */
export async function startAgent(cli, base, label, store, caller) {
  const home = path.join(base, label);
  const mk = (rel, mode) => {
    const dir = path.join(home, rel);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, mode);
    return dir;
  };
  mk(".", 0o755);
  const state = copyStore(store, path.join(home, "state"));
  const files = {
    dir: state.dir,
    socket: path.join(mk("run", 0o755), "agent.sock"),
    policy: path.join(mk("etc", 0o755), "policy"),
    audit: path.join(mk("log", 0o700), "audit.log"),
  };
  const who = caller.name === "nobody" ? "user:nobody" : `uid:${caller.uid}`;
  writeFileSync(files.policy, `# secretfile bench: the load generator's user reads everything\nread ${who} *\n`, {
    mode: 0o644,
  });
  chownSync(files.policy, 0, 0);
  chmodSync(files.policy, 0o644);
  // Started as the systemd unit starts it (src/setup/units.ts): node, the V8 flags of src/setup/agent-node-flags.json, the launcher.
  const child = spawn(
    process.execPath,
    [
      ...agentNodeFlags,
      cli.bin,
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
      env: { ...baseEnv(home), [LIMITS_VARIABLE]: BENCH_LIMITS },
      cwd: home,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const proc = track(child);
  await waitForPing(proc, files.socket, `the agent ${label}`);
  return { label, secrets: store.names.length, names: store.names, values: store.values, ...files, ...proc };
}

/** Starts the reference server (bench/null-server.mjs) on `<base>/null/null.sock`; resolves once it answers. */
export async function startNullServer(base) {
  const dir = path.join(base, "null");
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const socket = path.join(dir, "null.sock");
  const child = spawn(process.execPath, [path.join(HERE, "null-server.mjs"), socket], {
    env: baseEnv(dir),
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = track(child);
  await waitForPing(proc, socket, "the reference server");
  return { label: "reference", socket, ...proc };
}
