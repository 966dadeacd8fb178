// Where pending changes are kept: one age file each, `<state folder>/pending/ID.age`, encrypted to the store's recipients.
// Rules: never a plaintext byte on disk; the folder 0700 and each file 0600, the agent's own; written atomically (temp
// file, fsync, rename, fsync the folder); no symlink followed; only the agent reads them.

import { promises as fs } from "node:fs";
import path from "node:path";
import { AccessError, FailureError } from "../errors.js";
import { isPendingId } from "../protocol/pending.js";
import { replaceFile } from "../store/atomic.js";
import type { StoreDocument } from "../store/document.js";
import { checkPrivateFolder, readPrivateFile } from "../store/files.js";
import { errnoOf } from "../system/errno.js";
import type { Store } from "../store/store.js";
import { fingerprintKey, parseChange, serializeChange, type PendingChange } from "./pending-change.js";

/** The largest pending change file read, in bytes (an import of 10,000 values, encrypted, and room). */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

/** Keeps pending changes. The agent's state; its implementations hold values, so nothing but the agent reads them. */
export interface PendingStore {
  /** Returns every change kept. Throws CorruptError (5) naming a file that does not decrypt, AccessError (4) for an unsafe one. */
  load(): Promise<PendingChange[]>;
  /** Keeps `change` (replacing the one of its id), sealed to the recipients `doc` lists. Throws FailureError (1). */
  save(change: PendingChange, doc: StoreDocument): Promise<void>;
  /** Forgets change `id`; nothing when it is not kept. Throws FailureError (1). */
  remove(id: string): Promise<void>;
  /** Returns the key fingerprints are made with: only the agent has it. */
  key(): Uint8Array;
}

/** Pending changes as age files in `dir` (default: `pending/` in the store's folder). */
export class PendingFiles implements PendingStore {
  readonly dir: string;
  private readonly store: Store;

  constructor(store: Store, dir = path.join(store.paths.dir, "pending")) {
    this.store = store;
    this.dir = dir;
  }

  async load(): Promise<PendingChange[]> {
    let names: string[];
    try {
      await checkPrivateFolder(this.dir);
      names = await fs.readdir(this.dir);
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return [];
      throw err;
    }
    const changes: PendingChange[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith(".age") || !isPendingId(name.slice(0, -4))) continue; // temporary files, anything else
      const file = path.join(this.dir, name);
      const bytes = await readPrivateFile(file, {
        what: "pending change",
        forbiddenMode: 0o077,
        maxBytes: MAX_PENDING_BYTES,
      });
      if (bytes === null) continue;
      const plaintext = await this.store.unsealBytes(bytes, file);
      try {
        changes.push(parseChange(plaintext, file));
      } finally {
        plaintext.fill(0);
      }
    }
    return changes;
  }

  async save(change: PendingChange, doc: StoreDocument): Promise<void> {
    await this.makeFolder();
    const plaintext = serializeChange(change);
    try {
      await replaceFile(this.fileOf(change.id), await this.store.sealBytes(doc, plaintext), 0o600);
    } finally {
      plaintext.fill(0);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await fs.rm(this.fileOf(id), { force: true });
    } catch (err) {
      throw new FailureError(`cannot remove the pending change ${this.fileOf(id)}: ${errnoOf(err) ?? String(err)}`, {
        cause: err,
      });
    }
  }

  key(): Uint8Array {
    return fingerprintKey(this.store.identity.secret);
  }

  private fileOf(id: string): string {
    if (!isPendingId(id)) throw new FailureError(`not a pending change id: ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.age`);
  }

  /** Makes the folder 0700 (created with that mode, never chmod-ed after) and refuses one others could write or a symlink. */
  private async makeFolder(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { mode: 0o700 });
    } catch (err) {
      if (errnoOf(err) !== "EEXIST")
        throw new FailureError(`cannot create the folder ${this.dir}: ${errnoOf(err) ?? String(err)}`, { cause: err });
    }
    await checkPrivateFolder(this.dir);
    const st = await fs.lstat(this.dir);
    if ((st.mode & 0o077) !== 0) {
      throw new AccessError(`the folder ${this.dir} of pending changes has mode ${(st.mode & 0o777).toString(8)}`, {
        hint: `chmod 700 ${this.dir}`,
      });
    }
  }
}

/** Pending changes in memory only (tests; a store with no folder of its own). */
export class MemoryPending implements PendingStore {
  readonly changes = new Map<string, PendingChange>();
  private readonly secret: Uint8Array;

  constructor(secret: Uint8Array) {
    this.secret = secret;
  }

  async load(): Promise<PendingChange[]> {
    return [...this.changes.values()].map((c) => structuredClone(c));
  }

  async save(change: PendingChange): Promise<void> {
    this.changes.set(change.id, structuredClone(change));
  }

  async remove(id: string): Promise<void> {
    this.changes.delete(id);
  }

  key(): Uint8Array {
    return this.secret;
  }
}
