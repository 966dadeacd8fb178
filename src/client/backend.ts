// What every command asks of a store, whichever mode serves it, and how the mode is chosen.
// Rules: a flag wins over its variable; --dir and --socket together are a usage error; the choice is always explained;
// on a host set up for system mode only --dir or SECRETFILE_DIR picks a personal store, never the lack of an agent.

import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { FailureError, UsageError } from "../errors.js";
import { SYSTEM_PATHS, systemHostMarker } from "../system/paths.js";
import type { SecretInfo } from "../store/document.js";
import type { Attention } from "../store/expiry.js";
import type { History, Rollback } from "../store/history.js";
import type { AddOptions, ImportResult, MetadataChange } from "../store/operations.js";
import type { ApproveResult, PendingInfo } from "../protocol/pending.js";
import type { Accepted } from "../store/generation.js";

/** The operations commands need; personal mode and the agent client both provide them. */
export interface Backend {
  /** Returns the value of `name`. Throws NotFoundError (3), AccessError (4), … */
  get(name: string): Promise<string>;
  /** Returns the metadata of every secret the caller may see. */
  list(): Promise<SecretInfo[]>;
  /**
   * Returns the values of `names`, and which of them are expired or due for rotation. Without names: in personal mode
   * every secret of the caller's own store; through the agent the names a read rule gives the caller literally
   * (UsageError, 2, when none does). Throws NotFoundError (3) or AccessError (4) naming the first bad name.
   */
  values(names: string[] | undefined): Promise<SecretValues>;
  /** Adds or replaces `name`. */
  add(name: string, value: string, opts: AddOptions): Promise<void>;
  /**
   * Returns the store file when it holds `name`, else undefined: what `add` checks before it asks for a value. Through
   * the agent it needs the right to write `name` (AccessError, 4), so a writer learns nothing `add` would not tell it.
   */
  holder(name: string): Promise<string | undefined>;
  /**
   * Changes the description, expiry or rotation period of `name`, never its value (nor `updated`, nor its history).
   * Through the agent it needs the right to write `name` and is never held for approval. Throws UsageError (2),
   * NotFoundError (3), AccessError (4).
   */
  update(name: string, change: MetadataChange): Promise<void>;
  /** Removes `name` and its history. Throws NotFoundError (3) when it does not exist. */
  remove(name: string): Promise<void>;
  /** Returns the versions of `name` with their dates, never a value. Throws NotFoundError (3), AccessError (4). */
  history(name: string): Promise<History>;
  /** Makes version `to` of `name` (the newest earlier one when undefined) current again. Throws NotFoundError (3), … */
  rollback(name: string, to: number | undefined): Promise<Rollback>;
  /** Adds (or with `replace` replaces) every secret in one write, all or nothing. Throws ExistsError (1), … */
  importSecrets(secrets: { name: string; value: string }[], replace: boolean): Promise<ImportResult>;
  /** Returns how many earlier values each secret keeps, after setting it to `keep` when given. */
  historyKeep(keep: number | undefined): Promise<number>;
  /** Returns the pending changes the caller asked for or may approve (docs/approvals.md). Agent only: UsageError (2) in personal mode. */
  pending(): Promise<PendingInfo[]>;
  /** Approves pending change `id` (root: `force` applies it at once). Throws AccessError (4), NotFoundError (3), … */
  approve(id: string, force: boolean): Promise<ApproveResult>;
  /** Rejects pending change `id`: it is forgotten, not applied. Throws AccessError (4), NotFoundError (3), … */
  reject(id: string): Promise<void>;
  /**
   * Records the store on disk as the newest served, even when older than or a fork of the record (generation.ts).
   * Through the agent root only: AccessError (4) for anyone else.
   */
  acceptStore(): Promise<Accepted>;
}

/** Secret values by name, and the names among them that need attention (absent when fine). */
export interface SecretValues {
  values: Map<string, string>;
  expiring: Record<string, Attention>;
  /** Asked for no names: the names given by the policy that the store does not hold (absent: none). */
  missing?: string[];
}

/** Where the CLI gets its secrets, and why. */
export type Where = { mode: "personal"; dir: string; why: string } | { mode: "agent"; socket: string; why: string };

/** Flags that choose the mode. */
export interface WhereFlags {
  dir?: string;
  socket?: string;
}

/** Returns the default personal folder: $XDG_CONFIG_HOME/secretfile, else ~/.config/secretfile. */
export function defaultPersonalDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "secretfile");
}

/**
 * Chooses personal mode or the agent from flags, then variables, then what exists on the host: the system agent on a
 * host set up for system mode (its policy or state folder exists, see systemHostMarker) or with its socket, whether
 * the agent runs or not; else the personal default.
 * Throws UsageError (exit 2) when both a folder and a socket are asked for at the same level.
 */
export function chooseWhere(flags: WhereFlags, env: NodeJS.ProcessEnv = process.env): Where {
  if (flags.dir !== undefined && flags.socket !== undefined) {
    throw new UsageError("--dir and --socket cannot be used together", {
      hint: "--dir for a personal store, --socket for an agent",
    });
  }
  if (flags.dir !== undefined) return { mode: "personal", dir: path.resolve(flags.dir), why: "--dir was given" };
  if (flags.socket !== undefined) return { mode: "agent", socket: flags.socket, why: "--socket was given" };
  const dir = env.SECRETFILE_DIR || undefined;
  const socket = env.SECRETFILE_SOCKET || undefined;
  if (dir !== undefined && socket !== undefined) {
    throw new UsageError("SECRETFILE_DIR and SECRETFILE_SOCKET are both set", {
      hint: "unset one of them, or pass --dir or --socket",
    });
  }
  if (dir !== undefined) return { mode: "personal", dir: path.resolve(dir), why: "SECRETFILE_DIR is set" };
  if (socket !== undefined) return { mode: "agent", socket, why: "SECRETFILE_SOCKET is set" };
  const marker = systemHostMarker(env);
  if (marker !== undefined)
    return {
      mode: "agent",
      socket: SYSTEM_PATHS.socket,
      why: `this host is set up for system mode (${marker} exists)`,
    };
  if (existsSync(SYSTEM_PATHS.socket))
    return {
      mode: "agent",
      socket: SYSTEM_PATHS.socket,
      why: `the system agent's socket ${SYSTEM_PATHS.socket} exists`,
    };
  return {
    mode: "personal",
    dir: defaultPersonalDir(env),
    why: `no agent socket at ${SYSTEM_PATHS.socket}, so the personal store`,
  };
}

/** What a backend tells its caller as it goes (the core never prints). */
export interface BackendHooks {
  /** The store's lock is held by another writer; we wait. */
  onLockWait?: (lockPath: string) => void;
  /** A new personal store was made on first use. */
  onCreated?: (paths: { identity: string; store: string }) => void;
}

/**
 * True in the small entry's bundle for the agent alone (esbuild's `define`, src/cli/hot.ts), which leaves the personal
 * backend out: src/cli/hot.ts hands every form that needs it to the next bundle.
 */
declare const SECRETFILE_AGENT_ONLY: boolean;

/** Returns the backend for `where`, loading only the code that mode needs. */
export async function openBackend(where: Where, hooks: BackendHooks = {}): Promise<Backend> {
  // Written out, not a function: esbuild drops the personal backend from the agent's bundle only for a constant test.
  if (where.mode === "personal" && !(typeof SECRETFILE_AGENT_ONLY !== "undefined" && SECRETFILE_AGENT_ONLY)) {
    const { PersonalBackend } = await import("./personal.js");
    return new PersonalBackend(where.dir, hooks);
  }
  if (where.mode === "personal") throw new FailureError("the agent's own entry was asked for a personal store");
  const { AgentBackend } = await import("./agent.js");
  return new AgentBackend(where.socket);
}
