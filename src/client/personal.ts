// Personal mode: the CLI opens the store itself with the user's own identity.
// Rules: no daemon, no root; `add` creates the store on first use, every other command needs one.

import { NoStoreError, UsageError } from "../errors.js";
import type { ApproveResult, PendingInfo } from "../protocol/pending.js";
import { listSecrets, type SecretInfo } from "../store/document.js";
import { attentionOf } from "../store/expiry.js";
import type { Accepted } from "../store/generation.js";
import { historyKeep, setHistoryKeep, type History, type Rollback } from "../store/history.js";
import {
  getSecret,
  importSecrets,
  pickValues,
  putSecret,
  removeSecret,
  rollbackSecret,
  secretHistory,
  type AddOptions,
  updateSecret,
  type ImportResult,
  type MetadataChange,
} from "../store/operations.js";
import { Store, storePaths } from "../store/store.js";
import type { Backend, BackendHooks, SecretValues } from "./backend.js";

/** The backend for a personal store folder. */
export class PersonalBackend implements Backend {
  private readonly dir: string;
  private readonly hooks: BackendHooks;

  constructor(dir: string, hooks: BackendHooks = {}) {
    this.dir = dir;
    this.hooks = hooks;
  }

  async get(name: string): Promise<string> {
    const store = await this.open();
    return getSecret(await store.read(), name, store.paths.store).value;
  }

  async list(): Promise<SecretInfo[]> {
    return listSecrets(await (await this.open()).read());
  }

  async values(names: string[] | undefined): Promise<SecretValues> {
    const store = await this.open();
    const doc = await store.read();
    const values = pickValues(doc, names, store.paths.store);
    return { values, expiring: attentionOf(doc.secrets, values.keys(), new Date()) };
  }

  async add(name: string, value: string, opts: AddOptions): Promise<void> {
    const store = await this.open(true);
    await store.update((doc) => putSecret(doc, name, value, opts, store.paths.store), {
      onWait: this.hooks.onLockWait,
    });
  }

  async holder(name: string): Promise<string | undefined> {
    let store: Store;
    try {
      store = await Store.open(storePaths(this.dir));
    } catch (err) {
      if (err instanceof NoStoreError) return undefined; // `add` creates it, so nothing is there to refuse
      throw err;
    }
    return Object.hasOwn((await store.read()).secrets, name) ? store.paths.store : undefined;
  }

  async update(name: string, change: MetadataChange): Promise<void> {
    const store = await this.open();
    await store.update((doc) => updateSecret(doc, name, change, store.paths.store), { onWait: this.hooks.onLockWait });
  }

  async remove(name: string): Promise<void> {
    const store = await this.open();
    await store.update((doc) => removeSecret(doc, name, store.paths.store), { onWait: this.hooks.onLockWait });
  }

  async history(name: string): Promise<History> {
    const store = await this.open();
    return secretHistory(await store.read(), name, store.paths.store);
  }

  async rollback(name: string, to: number | undefined): Promise<Rollback> {
    const store = await this.open();
    return store.update((doc) => rollbackSecret(doc, name, to, store.paths.store), { onWait: this.hooks.onLockWait });
  }

  async importSecrets(secrets: { name: string; value: string }[], replace: boolean): Promise<ImportResult> {
    const store = await this.open(true);
    return store.update((doc) => importSecrets(doc, secrets, replace, store.paths.store), {
      onWait: this.hooks.onLockWait,
    });
  }

  async historyKeep(keep: number | undefined): Promise<number> {
    const store = await this.open();
    if (keep === undefined) return historyKeep(await store.read());
    await store.update((doc) => setHistoryKeep(doc, keep), { onWait: this.hooks.onLockWait });
    return keep;
  }

  async pending(): Promise<PendingInfo[]> {
    throw noApprovals();
  }

  async approve(): Promise<ApproveResult> {
    throw noApprovals();
  }

  async reject(): Promise<void> {
    throw noApprovals();
  }

  async acceptStore(): Promise<Accepted> {
    return (await this.open()).accept({ onWait: this.hooks.onLockWait });
  }

  private async open(createIfMissing = false): Promise<Store> {
    const paths = storePaths(this.dir);
    if (createIfMissing) return Store.openOrCreate(paths, { onWait: this.hooks.onLockWait }, this.hooks.onCreated);
    try {
      return await Store.open(paths);
    } catch (err) {
      if (!(err instanceof NoStoreError)) throw err;
      throw new NoStoreError(`no personal store in ${this.dir}`, {
        hint: "run `secretfile init` (or `secretfile add NAME`, which creates it), or pass --dir",
        cause: err,
      });
    }
  }
}

/** Approval rules are the agent's: a personal store has one user, so nothing waits for another (docs/approvals.md). */
function noApprovals(): UsageError {
  return new UsageError(
    "a personal store has no pending changes: approval rules apply only to a store the agent serves",
    {
      hint: "run it against the agent (--socket, or on the host set up for system mode); in personal mode every change applies at once",
    },
  );
}
