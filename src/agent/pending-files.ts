// Where pending changes are kept: two files each in `<state folder>/pending/`: `ID.json`, its metadata (no value),
// and `ID.age`, its request with the values, encrypted to the store's recipients.
// Rules: never a value in plaintext on disk; listing reads metadata only, a value is decrypted only to apply its change;
// the folder 0700 and each file 0600, the agent's own; written atomically (temp file, fsync, rename, fsync the
// folder), the sealed file before the metadata that makes the change exist, the metadata removed first; no symlink
// followed; only the agent reads them.

import { lstatSync, promises as fs } from "node:fs";
import path from "node:path";
import { AccessError, CorruptError, FailureError } from "../errors.js";
import { isPendingId } from "../protocol/pending.js";
import { replaceFile } from "../store/atomic.js";
import type { StoreDocument } from "../store/document.js";
import { checkPrivateFolder, readPrivateFile } from "../store/files.js";
import { errnoOf } from "../system/errno.js";
import type { Store } from "../store/store.js";
import {
  fingerprintKey,
  parseChange,
  parseRequest,
  serializeChange,
  serializeRequest,
  type ChangeRequest,
  type PendingChange,
} from "./pending-change.js";

/** The largest sealed request read, in bytes (an import of 10,000 values, encrypted, and room). */
const MAX_SEALED_BYTES = 64 * 1024 * 1024;
/** The largest metadata file read, in bytes (an import of 10,000 names of 128 characters, each with its stamp). */
const MAX_META_BYTES = 8 * 1024 * 1024;

/** A change as kept, with the bytes its two files take (what the limits of pending changes count). */
export interface Kept {
  change: PendingChange;
  sealedBytes: number;
  metaBytes: number;
}

/** What load() found: the changes, and the files it removed because they belong to no change. */
export interface Loaded {
  kept: Kept[];
  /** A sealed file without metadata: left by a crash between the two writes, or by an older secretfile. */
  dropped: string[];
}

/** Keeps pending changes. The agent's state; its implementations hold values, so nothing but the agent reads them. */
export interface PendingStore {
  /**
   * Returns every change kept, from its metadata alone (no value is read or decrypted), and removes sealed files of
   * no change. Throws CorruptError (5) naming a damaged metadata file, AccessError (4) for an unsafe one.
   */
  load(): Promise<Loaded>;
  /** Returns the bytes that keep `request` of change `id`, sealed to the recipients `doc` lists. Throws UsageError (2). */
  seal(id: string, request: ChangeRequest, doc: StoreDocument): Promise<Uint8Array>;
  /** Keeps a new change: `sealed` (from seal()), then its metadata. Returns the metadata's bytes. Throws FailureError (1). */
  create(change: PendingChange, sealed: Uint8Array): Promise<number>;
  /** Replaces the metadata of a change kept (its approvals); returns its bytes. Throws FailureError (1). */
  update(change: PendingChange): Promise<number>;
  /** Returns the request of `change`, values included. Throws CorruptError (5) when its sealed file is gone or damaged. */
  request(change: PendingChange): Promise<ChangeRequest>;
  /** Forgets change `id`; nothing when it is not kept. Throws FailureError (1). */
  remove(id: string): Promise<void>;
  /** Returns the key fingerprints are made with: only the agent has it. */
  key(): Uint8Array;
}

/** Pending changes as files in `dir` (default: `pending/` in the store's folder). */
export class PendingFiles implements PendingStore {
  readonly dir: string;
  private readonly store: Store;

  constructor(store: Store, dir = path.join(store.paths.dir, "pending")) {
    this.store = store;
    this.dir = dir;
  }

  async load(): Promise<Loaded> {
    let names: string[];
    try {
      await checkPrivateFolder(this.dir);
      names = await fs.readdir(this.dir);
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return { kept: [], dropped: [] };
      throw err;
    }
    const present = new Set(names);
    const kept: Kept[] = [];
    const dropped: string[] = [];
    for (const name of names.sort()) {
      const id = name.slice(0, name.lastIndexOf("."));
      const ext = name.slice(id.length + 1);
      if (!isPendingId(id) || (ext !== "json" && ext !== "age")) continue; // temporary files, anything else
      if (ext === "age" && !present.has(`${id}.json`)) {
        await this.removeFile(path.join(this.dir, name));
        dropped.push(path.join(this.dir, name));
      }
      if (ext !== "json") continue;
      const file = path.join(this.dir, name);
      const bytes = await readPrivateFile(file, {
        what: "pending change",
        forbiddenMode: 0o077,
        maxBytes: MAX_META_BYTES,
      });
      if (bytes === null) continue;
      kept.push({
        change: parseChange(bytes, file, id),
        sealedBytes: this.sizeOf(this.sealedOf(id)),
        metaBytes: bytes.length,
      });
    }
    return { kept, dropped };
  }

  seal(id: string, request: ChangeRequest, doc: StoreDocument): Promise<Uint8Array> {
    const plaintext = serializeRequest(id, request);
    return this.store.sealBytes(doc, plaintext).finally(() => plaintext.fill(0));
  }

  async create(change: PendingChange, sealed: Uint8Array): Promise<number> {
    await this.makeFolder();
    await replaceFile(this.sealedOf(change.id), sealed, 0o600);
    return this.update(change);
  }

  async update(change: PendingChange): Promise<number> {
    const meta = serializeChange(change);
    await replaceFile(this.metaOf(change.id), meta, 0o600);
    return meta.length;
  }

  async request(change: PendingChange): Promise<ChangeRequest> {
    const file = this.sealedOf(change.id);
    const bytes = await readPrivateFile(file, {
      what: "pending change",
      forbiddenMode: 0o077,
      maxBytes: MAX_SEALED_BYTES,
    });
    if (bytes === null) {
      throw new CorruptError(`the pending change ${file} is missing`, {
        hint: "the change cannot be applied: reject it, and the requester can ask again",
      });
    }
    const plaintext = await this.store.unsealBytes(bytes, file);
    try {
      return parseRequest(plaintext, file, change);
    } finally {
      plaintext.fill(0);
    }
  }

  async remove(id: string): Promise<void> {
    await this.removeFile(this.metaOf(id));
    await this.removeFile(this.sealedOf(id));
  }

  key(): Uint8Array {
    return fingerprintKey(this.store.identity.secret);
  }

  private async removeFile(file: string): Promise<void> {
    try {
      await fs.rm(file, { force: true });
    } catch (err) {
      throw new FailureError(`cannot remove the pending change ${file}: ${errnoOf(err) ?? String(err)}`, {
        cause: err,
      });
    }
  }

  /** Returns the size of `file` (0 when it is missing), without following a symlink. */
  private sizeOf(file: string): number {
    try {
      return lstatSync(file).size;
    } catch {
      return 0;
    }
  }

  private metaOf(id: string): string {
    return path.join(this.dir, `${checkId(id)}.json`);
  }

  private sealedOf(id: string): string {
    return path.join(this.dir, `${checkId(id)}.age`);
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

function checkId(id: string): string {
  if (!isPendingId(id)) throw new FailureError(`not a pending change id: ${JSON.stringify(id)}`);
  return id;
}

/** Pending changes in memory only (tests; a store with no folder of its own). Sealing is a plain copy here. */
export class MemoryPending implements PendingStore {
  readonly changes = new Map<string, PendingChange>();
  /** Each change's request as seal() made it. */
  readonly sealed = new Map<string, Uint8Array>();
  private readonly secret: Uint8Array;

  constructor(secret: Uint8Array) {
    this.secret = secret;
  }

  /** Keeps `change` asking for `request` (a test's starting state). */
  seed(change: PendingChange, request: ChangeRequest): void {
    this.changes.set(change.id, structuredClone(change));
    this.sealed.set(change.id, serializeRequest(change.id, request));
  }

  async load(): Promise<Loaded> {
    const kept = [...this.changes.values()].map((c) => ({
      change: structuredClone(c),
      sealedBytes: this.sealed.get(c.id)?.length ?? 0,
      metaBytes: serializeChange(c).length,
    }));
    return { kept, dropped: [] };
  }

  async seal(id: string, request: ChangeRequest): Promise<Uint8Array> {
    return serializeRequest(id, request);
  }

  async create(change: PendingChange, sealed: Uint8Array): Promise<number> {
    this.sealed.set(change.id, sealed);
    return this.update(change);
  }

  async update(change: PendingChange): Promise<number> {
    this.changes.set(change.id, structuredClone(change));
    return serializeChange(change).length;
  }

  async request(change: PendingChange): Promise<ChangeRequest> {
    const sealed = this.sealed.get(change.id);
    if (sealed === undefined) throw new CorruptError(`the pending change ${change.id} has no request kept`);
    return parseRequest(sealed, `memory:${change.id}`, change);
  }

  async remove(id: string): Promise<void> {
    this.changes.delete(id);
    this.sealed.delete(id);
  }

  key(): Uint8Array {
    return this.secret;
  }
}
