// Replacing a store's host identity: a new identity, the store re-encrypted to it, the old one kept until `--finish`.
// Rules: every step runs under the store's lock and is atomic; after any step (a crash included) identity.txt, or
// mid-way identity.txt.new or .old beside it, opens the store, and Store.read finds which; a rerun resumes.

import { promises as fs } from "node:fs";
import path from "node:path";
import { FailureError, SecretfileError } from "../errors.js";
import { syncFolder } from "./atomic.js";
import { createExclusive, readPrivateFile } from "./files.js";
import { errnoOf } from "../system/errno.js";
import { createIdentity, loadIdentityIfPresent, rekeyFiles } from "./identity.js";
import { ioHint } from "./io-error.js";
import type { LockOptions } from "./lock.js";
import { pausePoint } from "./pause.js";
import type { Store } from "./store.js";

/** What a rekey did. */
export interface RekeyResult {
  /** The new host recipient, and the old one (now in identity.txt.old). */
  recipient: string;
  previous: string;
  oldFile: string;
  /** True when it completed a rekey that had been interrupted. */
  resumed: boolean;
}

/**
 * Makes a new identity (post-quantum when `pq`, else of the current kind), re-encrypts the store to it and to the
 * current one, keeps the current one as identity.txt.old and puts the new one in identity.txt. Throws FailureError (1)
 * when a rekey awaits `--finish`, and the store's errors (4 unsafe files, 5 damaged store or list).
 */
export function rekey(store: Store, opts: { pq?: boolean; lock?: LockOptions } = {}): Promise<RekeyResult> {
  const file = store.paths.identity;
  const files = rekeyFiles(file);
  return store.locked(async (tx) => {
    const doc = await tx.read();
    const current = store.identity;
    const old = await loadIdentityIfPresent(files.old);
    let next = await loadIdentityIfPresent(files.next);
    if (old !== null && next === null) {
      throw new FailureError(`a rekey is already waiting to be finished: ${files.old} holds the previous identity`, {
        hint: "check that the new identity works and is backed up, then run `secretfile rekey --finish` before rekeying again",
      });
    }
    if (old !== null && old.secret !== current.secret) {
      throw new FailureError(`${files.old} and ${file} are different identities, but ${files.next} exists too`, {
        hint: `an earlier rekey was interrupted oddly: keep all three files, check which one \`age -d -i FILE ${store.paths.store}\` opens, and move the others aside`,
      });
    }
    const resumed = next !== null;
    const mode = (await fs.lstat(file)).mode & 0o777;
    next ??= await createIdentity(files.next, { pq: opts.pq ?? current.recipient.startsWith("age1pq1"), mode });
    await pausePoint("rekey:new-identity");
    await tx.write(doc); // to the current identity, the new one (identity.txt.new) and the extra recipients
    await pausePoint("rekey:reencrypted");
    if (old === null) {
      const bytes = await readPrivateFile(file, { what: "identity", forbiddenMode: 0o077, maxBytes: 64 * 1024 });
      if (bytes === null)
        throw new FailureError(`${file} vanished during the rekey`, { hint: "restore it from a backup" });
      await createExclusive(files.old, bytes, mode, "identity");
    }
    await pausePoint("rekey:old-kept");
    await step(`put ${files.next} in the place of ${file}`, file, () => fs.rename(files.next, file));
    await pausePoint("rekey:swapped");
    return { recipient: next.recipient, previous: current.recipient, oldFile: files.old, resumed };
  }, opts.lock);
}

/** What `rekey --finish` did. */
export interface FinishResult {
  /** The old identity file removed, or undefined when there was none (the store was only written again). */
  removed: string | undefined;
  recipient: string;
}

/**
 * Re-encrypts the store without the old identity, then removes identity.txt.old. Throws FailureError (1) when a rekey
 * was interrupted before the new identity took its place (run `rekey` again first).
 */
export function finishRekey(store: Store, opts: { lock?: LockOptions } = {}): Promise<FinishResult> {
  const files = rekeyFiles(store.paths.identity);
  return store.locked(async (tx) => {
    const doc = await tx.read();
    if ((await loadIdentityIfPresent(files.next)) !== null) {
      throw new FailureError(`a rekey was interrupted before ${files.next} took the place of ${store.paths.identity}`, {
        hint: "run `secretfile rekey` again to complete it, then `secretfile rekey --finish`",
      });
    }
    const old = await fs.lstat(files.old).then(
      () => files.old,
      () => undefined,
    );
    await tx.write(doc, { withoutOld: true });
    await pausePoint("rekey:finish-reencrypted");
    if (old !== undefined) await step(`remove ${old}`, old, () => fs.rm(old));
    return { removed: old, recipient: store.identity.recipient };
  }, opts.lock);
}

/** Runs one file-system step of a rekey and fsyncs the folder; a failure says which step, and that a rerun resumes. */
async function step(what: string, file: string, fn: () => Promise<unknown>): Promise<void> {
  const dir = path.dirname(file);
  try {
    await fn();
    await syncFolder(dir);
  } catch (err) {
    if (err instanceof SecretfileError) throw err;
    throw new FailureError(`cannot ${what}: ${errnoOf(err) ?? String(err)}; the store still opens`, {
      hint: `${ioHint(errnoOf(err), dir)}; then run the same command again, it resumes`,
      cause: err,
    });
  }
}
