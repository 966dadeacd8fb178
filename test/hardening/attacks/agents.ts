// Agents for the attack tests: like test/helpers/system.ts's, but started with extra environment (limits, lock
// staleness) and tracked here, so each test file stops what it started. Root only, as the helpers it builds on.

import { afterAll } from "vitest";
import {
  prepareAgent,
  spawnAgent,
  untilReady,
  type AgentFiles,
  type AgentProcess,
  type TestUser,
  type World,
} from "../../helpers/system.js";

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
  const proc = spawnAgent(sys.world, sys.users.service, files, env);
  started.push(proc);
  return { ...files, ...proc };
}

/** Resolves once the agent answers a ping; throws with its stderr if it ends first or takes over 15 s. */
export async function ready(agent: Agent): Promise<Agent> {
  await untilReady(agent, agent.socket);
  return agent;
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
