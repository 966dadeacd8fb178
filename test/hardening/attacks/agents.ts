// Agents for the attack tests: like test/helpers/system.ts's, but started with extra environment (limits, lock
// staleness) and tracked here, so each test file stops what it started. Root only, as the helpers it builds on.

import { spawn } from "node:child_process";
import { afterAll } from "vitest";
import { cleanEnv } from "../../helpers/cli.js";
import { NODE, prepareAgent, request, type AgentFiles, type AgentProcess, type TestUser, type World } from "../../helpers/system.js";

/** What these helpers need of a test file's system world (useSystem's context). */
export interface Sys {
  readonly world: World;
  readonly users: { readonly service: TestUser };
}

/** An agent process on known files. */
export interface Agent extends AgentFiles, AgentProcess {}

const started: AgentProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop()));
});

/** Spawns `secretfile agent` on `files` as the service user with `env` laid over a clean environment; returns at once. */
export function spawnAgentWith(sys: Sys, files: AgentFiles, env: NodeJS.ProcessEnv = {}): Agent {
  const service = sys.users.service;
  const child = spawn(NODE, [sys.world.bin, "agent", "--dir", files.dir, "--socket", files.socket, "--policy", files.policy, "--audit", files.audit], {
    env: cleanEnv({ HOME: sys.world.root, ...env }),
    cwd: sys.world.root,
    uid: service.uid,
    gid: service.gid,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let done = false;
  child.stdout!.resume();
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const proc: AgentProcess = {
    pid: child.pid!,
    stderr: () => stderr,
    exited,
    alive: () => !done,
    stop: async () => {
      if (done) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  started.push(proc);
  return { ...files, ...proc };
}

/** Resolves once the agent answers a ping; throws with its stderr if it ends first or takes over 15 s. */
export async function ready(agent: Agent): Promise<Agent> {
  const t0 = Date.now();
  for (;;) {
    if (!agent.alive()) throw new Error(`the agent ended before answering (${JSON.stringify(await agent.exited)}): ${agent.stderr()}`);
    const answer = await request(agent.socket, { v: 1, op: "ping" }, 1_000).catch(() => undefined);
    if (answer?.ok === true) return agent;
    if (Date.now() - t0 > 15_000) {
      await agent.stop();
      throw new Error(`the agent did not answer within 15 s: ${agent.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Prepares files, starts an agent with `env` and waits until it answers. */
export async function startAgentWith(
  sys: Sys,
  spec: { policyText: string; secrets?: Record<string, string> },
  env: NodeJS.ProcessEnv = {},
): Promise<Agent> {
  const files = await prepareAgent(sys.world, sys.users.service, spec);
  return ready(spawnAgentWith(sys, files, env));
}
