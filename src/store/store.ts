// A store: the encrypted document in one file, read with an identity, changed under a lock, replaced atomically.
// Rules: lock → decrypt → change → encrypt → temp file → fsync → rename → fsync folder → unlock; unsafe files refused.

// Synchronous calls, not node:fs/promises: loading that module costs every read's start about 1 ms (bench/limits.md).
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { ExistsError, FailureError, NoStoreError } from "../errors.js";
import { errnoOf } from "../system/errno.js";
import { decrypt, encrypt, NotForThisIdentityError } from "./crypto.js";
import { emptyDocument, parseDocument, serializeDocument, type StoreDocument } from "./document.js";
import { removeLeftovers, replaceFile } from "./atomic.js";
import {
  compareWithSeen,
  factsOf,
  fileStamp,
  raiseGeneration,
  readSeen,
  refusal,
  SEEN_FILE,
  storeHash,
  writeSeen,
  type Accepted,
  type StoreFacts,
} from "./generation.js";
import { checkPrivateFolder, createExclusive, readPrivateFile } from "./files.js";
import {
  createIdentity,
  loadIdentity,
  loadIdentityIfPresent,
  rekeyIdentities,
  type LoadedIdentity,
} from "./identity.js";
import { withLock, type LockOptions } from "./lock.js";
import type { Mirror } from "./recipients.js";

/** The largest store file read, in bytes. */
const MAX_STORE_BYTES = 64 * 1024 * 1024;

/** Where a store's files are. */
export interface StorePaths {
  dir: string;
  identity: string;
  store: string;
  /** The record of the newest store this host has served (generation.ts); a store older than it is refused. */
  seen: string;
  /** True when `identity` is a sealed identity systemd decrypted into $CREDENTIALS_DIRECTORY (see src/setup/seal.ts). */
  sealed?: boolean;
  /** The identity's mode that hints ask for (IDENTITY_MODE in identity.ts): the agent's is the system one. */
  identityMode?: number;
}

/** Returns the files of a store folder: `identity.txt`, `store.age` and `store.seen`. */
export function storePaths(dir: string): StorePaths {
  return {
    dir,
    identity: path.join(dir, "identity.txt"),
    store: path.join(dir, "store.age"),
    seen: path.join(dir, SEEN_FILE),
  };
}

/** An opened store: an identity and the file it decrypts. */
export class Store {
  readonly paths: StorePaths;
  private current: LoadedIdentity;
  /** The facts of the store file last read or written by this Store; undefined before the first. */
  facts: StoreFacts | undefined;
  /** The document this Store last wrote (the agent serves it on if the file is then replaced by an older one). */
  lastWritten: StoreDocument | undefined;

  private constructor(paths: StorePaths, identity: LoadedIdentity) {
    this.paths = paths;
    this.current = identity;
  }

  /** The host identity: the one in `paths.identity` (reloaded when a rekey replaced the file). */
  get identity(): LoadedIdentity {
    return this.current;
  }

  /**
   * Opens the store in `paths`, loading and checking its identity.
   * Throws AccessError (4) for unsafe files, CorruptError (5) for an unreadable identity,
   * NoStoreError (1) when there is no identity.
   */
  static async open(paths: StorePaths): Promise<Store> {
    await checkPrivateFolder(paths.dir);
    return new Store(paths, await loadIdentity(paths.identity, { sealed: paths.sealed, mode: paths.identityMode }));
  }

  /**
   * Creates the folder (0700), a new identity (0600) and an empty store (0600), each with its final
   * mode from the start. Throws ExistsError (1) if an identity or store already exists there.
   */
  static async create(paths: StorePaths, opts: { pq: boolean; identityMode?: number }): Promise<Store> {
    await makePrivateFolder(paths.dir);
    const existing = await readPrivateFile(paths.store, { what: "store", forbiddenMode: 0, maxBytes: MAX_STORE_BYTES });
    if (existing !== null) {
      throw new ExistsError(`a store already exists at ${paths.store}`, {
        hint: "keep using it, or move it aside to start over",
      });
    }
    const identity = await createIdentity(paths.identity, { pq: opts.pq, mode: opts.identityMode });
    const store = new Store(paths, identity);
    try {
      const doc = emptyDocument();
      raiseGeneration(doc, identity.recipient);
      const sealed = await store.seal(doc);
      await createExclusive(paths.store, sealed, 0o600, "store");
      store.facts = factsOf(doc, storeHash(sealed));
      await writeSeen(paths.seen, store.facts, fileStamp(paths.store));
    } catch (err) {
      // The new identity protects nothing yet: without its store it would only be in the way of the next attempt.
      if (!(err instanceof ExistsError)) {
        try {
          rmSync(paths.identity, { force: true });
        } catch {
          // left for the next attempt to report
        }
      }
      throw err;
    }
    return store;
  }

  /**
   * Opens the store in `paths`, creating it (as `create` does) when there is no identity yet.
   * Creation happens under the store's lock, so concurrent first writers make one store; `onCreated`
   * is called when this call made it.
   */
  static async openOrCreate(
    paths: StorePaths,
    lock: LockOptions = {},
    onCreated?: (paths: StorePaths) => void,
  ): Promise<Store> {
    try {
      return await Store.open(paths);
    } catch (err) {
      if (!(err instanceof NoStoreError)) throw err;
    }
    await makePrivateFolder(paths.dir);
    return withLock(
      paths.store,
      async () => {
        try {
          return await Store.open(paths);
        } catch (err) {
          if (!(err instanceof NoStoreError)) throw err;
          const store = await Store.create(paths, { pq: false });
          onCreated?.(paths);
          return store;
        }
      },
      lock,
    );
  }

  /**
   * Decrypts and returns the document, after checking it against the record of the newest store served (and raising the
   * record when this one is newer). Throws NoStoreError (1) when the store file is missing, CorruptError (5) when
   * damaged, StaleStoreError (5) when it is older than the record or a fork of it.
   */
  async read(): Promise<StoreDocument> {
    const seen = await readSeen(this.paths.seen);
    const stamp = fileStamp(this.paths.store);
    // The file the record was written for, unchanged through the read: its hash is the record's.
    const known = (generation: number) =>
      seen?.stamp === stamp && generation === seen.generation && fileStamp(this.paths.store) === stamp
        ? seen.hash
        : undefined;
    const doc = await this.load(known);
    const facts = this.facts!;
    const comparison = compareWithSeen(facts, seen);
    if (comparison === "older" || comparison === "fork") throw refusal(this.paths.store, facts, seen!, comparison);
    if (comparison === "newer" || seen?.stamp !== stamp) {
      // Readers raise the record without the store's lock. Our temporary file gone at the rename (ENOENT) means a writer
      // holds the lock and cleared it: that writer records its own, newer store, so this read's record can be skipped
      // (a record lower than the store is never a false refusal).
      await writeSeen(this.paths.seen, facts, stamp).catch((err: unknown) => {
        if (!(err instanceof FailureError && errnoOf(err.cause) === "ENOENT")) throw err;
      });
    }
    return doc;
  }

  /**
   * Records the store on disk as the newest this host has served, whatever the record held (root's `accept-store`):
   * under the store's lock, so no write slips between the reading and the record. Throws what reading the store throws,
   * but never StaleStoreError.
   */
  accept(lock: LockOptions = {}): Promise<Accepted> {
    return withLock(
      this.paths.store,
      async () => {
        const stamp = fileStamp(this.paths.store);
        await this.load();
        const previous = await readSeen(this.paths.seen).catch(() => null); // a damaged record is what is replaced
        await writeSeen(this.paths.seen, this.facts!, stamp);
        return { facts: this.facts!, previous };
      },
      lock,
    );
  }

  /** Decrypts and parses the store file, setting `facts`; no check against the record. */
  private async load(known?: (generation: number) => string | undefined): Promise<StoreDocument> {
    const bytes = await readPrivateFile(this.paths.store, {
      what: "store",
      forbiddenMode: 0o077,
      maxBytes: MAX_STORE_BYTES,
    });
    if (bytes === null) {
      throw new NoStoreError(`no store at ${this.paths.store} (the identity ${this.paths.identity} exists)`, {
        hint: "restore store.age from a backup, or move the identity aside and run `secretfile init`",
      });
    }
    const plaintext = await this.decryptWithAny(bytes);
    try {
      const doc = parseDocument(plaintext, this.paths.store);
      this.facts = factsOf(doc, known?.(doc.generation ?? 0) ?? storeHash(bytes));
      return doc;
    } finally {
      plaintext.fill(0); // the values live on only as strings (see SECURITY.md)
    }
  }

  /**
   * Decrypts with the host identity; when the store is not encrypted to it, with the identity file as it is now (a
   * rekey replaced it) and then the ones a rekey keeps beside it, so a store left by an interrupted rekey still opens.
   */
  private async decryptWithAny(bytes: Uint8Array, file = this.paths.store): Promise<Uint8Array> {
    try {
      return await decrypt(bytes, this.current.secret, file);
    } catch (err) {
      if (!(err instanceof NotForThisIdentityError)) throw err;
      const now = await loadIdentityIfPresent(this.paths.identity, { sealed: this.paths.sealed }).catch(() => null);
      const candidates = [
        ...(now !== null && now.secret !== this.current.secret ? [now] : []),
        ...(await rekeyIdentities(this.paths.identity)),
      ];
      for (const candidate of candidates) {
        try {
          const plaintext = await decrypt(bytes, candidate.secret, file);
          if (candidate === now) this.current = now;
          return plaintext;
        } catch (again) {
          if (!(again instanceof NotForThisIdentityError)) throw again;
        }
      }
      throw err;
    }
  }

  /**
   * Runs `fn` holding the store's write lock, with a transaction to read the document (checking the recipient list
   * beside it) and to write it back atomically. Throws what `fn` throws, and FailureError (1) when the lock cannot be had.
   */
  locked<T>(fn: (tx: Transaction) => Promise<T>, lock: LockOptions = {}): Promise<T> {
    return withLock(
      this.paths.store,
      async (assertHeld) => {
        let mirror: Mirror | undefined;
        let readGeneration = 0;
        return fn({
          read: async () => {
            const doc = await this.read();
            readGeneration = this.facts!.generation;
            // Loaded here: only writes check the recipient list, and `get` starts faster without it.
            const { Mirror } = await import("./recipients.js");
            mirror = await Mirror.check(this.paths.store, doc.recipients ?? []);
            return doc;
          },
          write: async (doc, opts = {}) => {
            if (mirror === undefined) throw new Error("Store.locked: write before read");
            await mirror.prepare(doc.recipients ?? []);
            await removeLeftovers(this.paths.store);
            await removeLeftovers(this.paths.seen);
            // Every write raises the generation, above the one read from disk whatever `doc` carries.
            raiseGeneration(doc, this.current.recipient, [readGeneration]);
            const sealed = await this.seal(doc, opts.withoutOld === true);
            await replaceFile(this.paths.store, sealed, 0o600, assertHeld);
            this.facts = factsOf(doc, storeHash(sealed));
            this.lastWritten = doc;
            await writeSeen(this.paths.seen, this.facts, fileStamp(this.paths.store));
            await mirror.finish();
          },
        });
      },
      lock,
    );
  }

  /**
   * Changes the document under the lock and replaces the file atomically. `change` may throw to
   * abort; then nothing of it is written. Resolves with what `change` returned once the new store is
   * in place. Updates asked of one Store while it is writing are committed together in its next
   * write, in the order asked, each seeing the ones before it (the agent's many clients then cost one
   * write, not one each); only that write competes for the lock with other processes.
   */
  update<T>(change: (doc: StoreDocument) => T, lock: LockOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ change, lock, resolve: resolve as (result: unknown) => void, reject });
      if (!this.writing) void this.drain();
    });
  }

  /** Updates asked and not yet being written. */
  private pending: PendingUpdate[] = [];
  private writing = false;

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) await this.commit(this.pending.splice(0));
    } finally {
      this.writing = false;
    }
  }

  /** Applies each update of `batch` to its own copy of the document, in order, and writes the result once. */
  private async commit(batch: PendingUpdate[]): Promise<void> {
    const applied: { update: PendingUpdate; result: unknown }[] = [];
    const lock: LockOptions = {
      onWait: (lockPath) => batch.forEach((u) => u.lock.onWait?.(lockPath)),
      timeoutMs: Math.min(...batch.map((u) => u.lock.timeoutMs ?? 60_000)),
    };
    try {
      await this.locked(async (tx) => {
        let doc = await tx.read();
        for (const update of batch) {
          // A change that throws leaves no trace: it worked on a copy.
          const draft = structuredClone(doc);
          try {
            applied.push({ update, result: update.change(draft) });
            doc = draft;
          } catch (err) {
            update.reject(err);
          }
        }
        if (applied.length === 0) return;
        await tx.write(doc);
      }, lock);
    } catch (err) {
      for (const update of batch) update.reject(err); // a promise already settled ignores this
      return;
    }
    for (const { update, result } of applied) update.resolve(result);
  }

  /**
   * Encrypts `doc` to the host identity (as its file now holds it), the identities of a rekey in progress (the old one unless `withoutOld`), and
   * the extra recipients the document lists.
   */
  private async seal(doc: StoreDocument, withoutOld = false): Promise<Uint8Array> {
    return this.sealBytes(doc, serializeDocument(doc), withoutOld);
  }

  /**
   * Encrypts `plaintext` (a file the agent keeps beside the store, such as a pending change) to the recipients the
   * store is encrypted to, as `doc` lists them. Throws UsageError (2) for a recipient age refuses.
   */
  async sealBytes(doc: StoreDocument, plaintext: Uint8Array, withoutOld = false): Promise<Uint8Array> {
    // A long-lived Store (the agent's) writes to the identity file as it is now, in case a rekey replaced it.
    const now = await loadIdentityIfPresent(this.paths.identity, { sealed: this.paths.sealed, known: this.current });
    if (now !== null) this.current = now;
    const rekey = await rekeyIdentities(this.paths.identity, withoutOld ? ["next"] : ["next", "old"]);
    const recipients = new Set([
      this.current.recipient,
      ...rekey.map((i) => i.recipient),
      ...(doc.recipients ?? []).map((e) => e.recipient),
    ]);
    return encrypt(plaintext, [...recipients]);
  }

  /**
   * Decrypts `bytes` read from `file` that sealBytes wrote, with any identity the store opens with; the caller zeroes
   * the plaintext. Throws CorruptError (5) for a damaged file or one not encrypted to these identities.
   */
  unsealBytes(bytes: Uint8Array, file: string): Promise<Uint8Array> {
    return this.decryptWithAny(bytes, file);
  }
}

/** A write under the store's lock (see Store.locked). */
export interface Transaction {
  /** Decrypts the document and checks the recipient list beside the store against it (CorruptError 5 when they differ). */
  read(): Promise<StoreDocument>;
  /** Encrypts `doc` and replaces the store atomically, then its recipient list; `withoutOld` leaves out identity.txt.old. */
  write(doc: StoreDocument, opts?: { withoutOld?: boolean }): Promise<void>;
}

/** An update waiting for its Store's next write. */
interface PendingUpdate {
  change: (doc: StoreDocument) => unknown;
  lock: LockOptions;
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
}

async function makePrivateFolder(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await checkPrivateFolder(dir);
}
