// Starting the agent: harden the process, load policy, audit log and identity, then serve the socket.
// Rules: refuse to start on an unsafe or invalid policy, identity or store; keep the decrypted document only
// until the store file changes.

import { lstatSync } from "node:fs";
import type { StoreDocument } from "../store/document.js";
import type { StoreFacts } from "../store/generation.js";
import { StaleStoreError } from "../errors.js";
import { LastReads } from "../audit/last-read.js";
import { IDENTITY_MODE } from "../store/identity.js";
import { Store, storePaths } from "../store/store.js";
import { Approvals } from "./approvals.js";
import { AuditLog } from "./audit.js";
import { checkSocketPath, sealedIdentity, type AgentPaths } from "../system/paths.js";
import type { AgentContext } from "./handle.js";
import { hardenProcess } from "../system/hardening.js";
import { requireNative } from "../system/native.js";
import { DEFAULT_LIMITS, LIMITS_VARIABLE, parseLimits, type Limits } from "./limits.js";
import { PendingFiles } from "./pending-files.js";
import { perTurn } from "./per-turn.js";
import { PolicyState } from "./policy-state.js";
import { ProcHelper } from "./proc-helper.js";
import { DEFAULT_PROC_DEADLINES, ProcReader, type ProcDeadlines, type ProcSource } from "./proc-reader.js";
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
  /** Where callers' /proc is read (a helper process by default), and its deadlines. */
  proc?: { source?: ProcSource; deadlines?: ProcDeadlines };
}

/**
 * Starts the agent; `reload()` reads the policy again (what SIGHUP does). Throws AccessError (4) for unsafe files, PolicySyntaxError (1) for a bad policy,
 * CorruptError (5) for an identity or store that does not decrypt, FailureError (1) otherwise (without the native addon, too).
 */
export async function startAgent(
  opts: AgentOptions,
): Promise<RunningAgent & { audit: AuditLog; reload: () => Promise<void> }> {
  // Plain Node cannot read SO_PEERCRED: no addon, no agent (docs/native.md), said before anything else is done.
  requireNative("the agent");
  hardenProcess();
  const { paths, log } = opts;
  const env = opts.env ?? process.env;
  const listen = listenFrom(paths.socket, env); // a socket path too long for sun_path is refused before anything else
  const limits: Limits = { ...DEFAULT_LIMITS, ...parseLimits(env[LIMITS_VARIABLE]), ...opts.limits };
  const audit = new AuditLog(paths.audit, { bytesPerUidPerMinute: limits.auditBytesPerUid });
  // The journal keeps the chain's head at every start and stop: an anchor `secretfile audit verify` can be held to.
  log(`audit log ${paths.audit} continues from sha256 ${audit.head}`);
  const policy = await PolicyState.load(paths.policy, (now, asked) => {
    const why = asked ? " on request (SIGHUP)" : "";
    if (now.ok) log(`reloaded the policy ${paths.policy}${why} (${now.policy.rules.length} rules)`);
    else
      log(`the policy ${paths.policy} is now invalid${why}; refusing every request but root's: ${now.error.message}`);
    audit.event("policy-reload", {
      file: paths.policy,
      ok: now.ok,
      signal: asked ? "SIGHUP" : undefined,
      error: now.ok ? undefined : now.error.message,
    });
  });
  const sealed = sealedIdentity(env);
  const files = { ...storePaths(paths.dir), identityMode: IDENTITY_MODE.system };
  const store = await Store.open(sealed === undefined ? files : { ...files, identity: sealed, sealed: true });
  if (sealed !== undefined) log(`identity: the sealed credential ${sealed} (systemd decrypted it for this run)`);
  const lastRead = new LastReads();
  // Before the first request, so `ls` shows what happened before a restart; a log that cannot be read costs only that.
  await lastRead
    .seed(paths.audit)
    .catch((err: unknown) =>
      log(`last reads not seeded from ${paths.audit}: ${err instanceof Error ? err.message : String(err)}`),
    );
  const ctx = contextFor(store, policy, audit, lastRead, new Approvals(new PendingFiles(store), { limits }), log);
  // Refuse to start on a store this identity cannot open; an older or forked one is refused per request instead, so
  // every client is told why and root can accept it through this agent.
  await ctx.read().catch((err: unknown) => {
    if (!(err instanceof StaleStoreError)) throw err;
  });
  const helper = opts.proc?.source === undefined ? new ProcHelper(log) : undefined;
  helper?.warm();
  const procs = new ProcReader(opts.proc?.source ?? helper!, opts.proc?.deadlines ?? DEFAULT_PROC_DEADLINES);
  let running: RunningAgent;
  try {
    running = await serve(listen, ctx, limits, log, procs);
  } catch (err) {
    procs.close();
    throw err;
  }
  // LoadCredential= requests, when systemd passes the credential socket too (secretfile.socket's second ListenStream=).
  const credFd = credentialsFd(env);
  const closeCredentials = credFd === undefined ? undefined : await serveCredentials(credFd, ctx, log);
  audit.event("start", { pid: process.pid, socket: paths.socket, store: store.paths.store, policy: paths.policy });
  return {
    ...running,
    audit,
    // SIGHUP: the policy read again now, as when its file changes (an invalid one refuses every uid but root).
    reload: async () => {
      await policy.reload();
    },
    close: async () => {
      await Promise.all([running.close(), closeCredentials?.()]);
      procs.close();
      audit.event("stop", { pid: process.pid });
      log(`audit log ${paths.audit} ends at sha256 ${audit.head}`);
      audit.close();
    },
  };
}

function contextFor(
  store: Store,
  policy: PolicyState,
  audit: AuditLog,
  lastRead: LastReads,
  approvals: Approvals,
  log: (msg: string) => void,
): AgentContext {
  let cached: { stamp: string; doc: Promise<StoreDocument> } | undefined;
  /** The newest store this agent has served: kept and served on when the file is replaced by an older or forked one. */
  let held: StoreDocument | undefined;
  let heldFacts: StoreFacts | undefined;
  let refusal: string | undefined;
  // Checked when the file changes, not per request: a refusal is said once per file (journal and audit), and then
  // either the held store is served on or, with none, every request gets the refusal (cached with the file's stamp).
  const load = async (): Promise<StoreDocument> => {
    try {
      held = await store.read();
      heldFacts = store.facts;
      refusal = undefined;
      return held;
    } catch (err) {
      if (!(err instanceof StaleStoreError)) throw err;
      refusal = err.message;
      const facts = store.facts;
      const serving = held === undefined ? "serving nothing until it is resolved" : "serving on the store it holds";
      log(`${err.message}; ${serving}; ${err.hint ?? ""}`);
      audit.event("store-refused", {
        store: store.paths.store,
        generation: facts?.generation,
        hash: facts?.hash,
        reason: err.message,
        serving: held === undefined ? "nothing" : "held",
      });
      if (held !== undefined) return held;
      throw err;
    }
  };
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
      const doc = load();
      cached = { stamp: now, doc };
      doc.catch((err: unknown) => {
        if (cached?.doc === doc && !(err instanceof StaleStoreError)) cached = undefined;
      });
    }
    return cached.doc;
  };
  return {
    store,
    policy,
    audit,
    lastRead,
    approvals,
    read,
    served: () => heldFacts,
    refusal: () => (held === undefined ? undefined : refusal),
    accept: async () => {
      cached = undefined;
      stamp.forget();
      const accepted = await store.accept();
      held = undefined; // the next read serves the accepted store
      return accepted;
    },
    update: async (change) => {
      cached = undefined;
      try {
        const result = await store.update(change);
        held = store.lastWritten ?? held;
        heldFacts = store.facts;
        return result;
      } finally {
        cached = undefined;
        stamp.forget();
      }
    },
  };
}

/** Listens on the socket systemd handed over (LISTEN_FDS), else on `socket`. */
function listenFrom(socket: string, env: NodeJS.ProcessEnv): Listen {
  if (env.LISTEN_FDS !== undefined && Number(env.LISTEN_PID) === process.pid && Number(env.LISTEN_FDS) >= 1)
    return { fd: 3 };
  checkSocketPath(socket); // never listen on a path the kernel would cut short
  return { path: socket };
}
