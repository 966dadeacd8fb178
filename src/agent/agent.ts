// Starting the agent: harden the process, load policy, audit log and identity, then serve the socket.
// Rules: refuse to start on an unsafe or invalid policy, identity or store; keep the decrypted document only
// until the store file changes.

import { lstatSync } from "node:fs";
import type { StoreDocument } from "../store/document.js";
import { LastReads } from "../audit/last-read.js";
import { Store, storePaths } from "../store/store.js";
import { AuditLog } from "./audit.js";
import { sealedIdentity, type AgentPaths } from "../system/paths.js";
import type { AgentContext } from "./handle.js";
import { hardenProcess } from "../system/hardening.js";
import { DEFAULT_LIMITS, LIMITS_VARIABLE, parseLimits, type Limits } from "./limits.js";
import { perTurn } from "./per-turn.js";
import { PolicyState } from "./policy-state.js";
import { serve, type Listen, type RunningAgent } from "./server.js";
import { credentialsFd, serveCredentials } from "./credentials.js";

/** Options for starting an agent. */
export interface AgentOptions {
  paths: AgentPaths;
  /** Overrides DEFAULT_LIMITS, and SECRETFILE_AGENT_LIMITS in `env`. */
  limits?: Partial<Limits>;
  /** Operational messages (for the journal); never values. */
  log: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the agent. Throws AccessError (4) for unsafe files, PolicySyntaxError (1) for a bad policy,
 * CorruptError (5) for an identity or store that does not decrypt, FailureError (1) otherwise.
 */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent & { audit: AuditLog }> {
  hardenProcess();
  const { paths, log } = opts;
  const env = opts.env ?? process.env;
  const limits: Limits = { ...DEFAULT_LIMITS, ...parseLimits(env[LIMITS_VARIABLE]), ...opts.limits };
  const audit = new AuditLog(paths.audit);
  // The journal keeps the chain's head at every start and stop: an anchor `secretfile audit verify` can be held to.
  log(`audit log ${paths.audit} continues from sha256 ${audit.head}`);
  const policy = await PolicyState.load(paths.policy, (now) => {
    if (now.ok) log(`reloaded the policy ${paths.policy} (${now.policy.rules.length} rules)`);
    else log(`the policy ${paths.policy} is now invalid; refusing every request but root's: ${now.error.message}`);
    audit.event("policy-reload", { file: paths.policy, ok: now.ok, error: now.ok ? undefined : now.error.message });
  });
  const sealed = sealedIdentity(env);
  const store = await Store.open(sealed === undefined ? storePaths(paths.dir) : { ...storePaths(paths.dir), identity: sealed, sealed: true });
  if (sealed !== undefined) log(`identity: the sealed credential ${sealed} (systemd decrypted it for this run)`);
  const lastRead = new LastReads();
  // Before the first request, so `ls` shows what happened before a restart; a log that cannot be read costs only that.
  await lastRead.seed(paths.audit).catch((err: unknown) => log(`last reads not seeded from ${paths.audit}: ${err instanceof Error ? err.message : String(err)}`));
  const ctx = contextFor(store, policy, audit, lastRead);
  await ctx.read(); // refuse to start on a store this identity cannot open
  const running = await serve(listenFrom(paths.socket, env), ctx, limits, log);
  // LoadCredential= requests, when systemd passes the credential socket too (secretfile.socket's second ListenStream=).
  const credFd = credentialsFd(env);
  const closeCredentials = credFd === undefined ? undefined : await serveCredentials(credFd, ctx, log);
  audit.event("start", { pid: process.pid, socket: paths.socket, store: store.paths.store, policy: paths.policy });
  return {
    ...running,
    audit,
    close: async () => {
      await Promise.all([running.close(), closeCredentials?.()]);
      audit.event("stop", { pid: process.pid });
      log(`audit log ${paths.audit} ends at sha256 ${audit.head}`);
      audit.close();
    },
  };
}

function contextFor(store: Store, policy: PolicyState, audit: AuditLog, lastRead: LastReads): AgentContext {
  let cached: { stamp: string; doc: Promise<StoreDocument> } | undefined;
  // Synchronous lstat (cheaper than a trip through the thread pool), once per event-loop turn that has requests.
  const stamp = perTurn(async () => {
    try {
      const st = lstatSync(store.paths.store, { bigint: true });
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      return "missing";
    }
  });
  const read = async () => {
    const now = await stamp();
    if (cached?.stamp !== now) {
      const doc = store.read();
      cached = { stamp: now, doc };
      doc.catch(() => {
        if (cached?.doc === doc) cached = undefined;
      });
    }
    return cached.doc;
  };
  return {
    store,
    policy,
    audit,
    lastRead,
    read,
    update: async (change) => {
      cached = undefined;
      try {
        return await store.update(change);
      } finally {
        cached = undefined;
        stamp.forget();
      }
    },
  };
}

/** Listens on the socket systemd handed over (LISTEN_FDS), else on `socket`. */
function listenFrom(socket: string, env: NodeJS.ProcessEnv): Listen {
  if (env.LISTEN_FDS !== undefined && Number(env.LISTEN_PID) === process.pid && Number(env.LISTEN_FDS) >= 1) return { fd: 3 };
  return { path: socket };
}
