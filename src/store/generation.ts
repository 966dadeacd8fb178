// A store's generation and the record of the highest one a host has served (`store.seen`, beside store.age).
// Rules: every write raises the generation; an older store, or another file at the same generation (a fork), is
// refused until accepted explicitly; the record is written atomically, never through a symlink, mode 0600.

import crypto from "node:crypto";
import { lstatSync } from "node:fs";
import { StaleStoreError } from "../errors.js";
import { replaceFile } from "./atomic.js";
import { readPrivateFile } from "./files.js";
import { VERSION, type StoreDocument } from "./document.js";

/** The record's name in a store folder: beside store.age, in the agent's state folder in system mode. */
export const SEEN_FILE = "store.seen";

/** What identifies one store file: its generation, who wrote it and when, and the sha256 of the file's bytes. */
export interface StoreFacts {
  /** 0 for a store written before generations (document version 1). */
  generation: number;
  /** sha256 of store.age's bytes (the age ciphertext), in hex: the same file on every host has the same hash. */
  hash: string;
  /** The recipient (public key) of the identity that wrote it; absent at generation 0. */
  writtenBy?: string;
  /** When it was written, ISO 8601; absent at generation 0. */
  writtenAt?: string;
}

/** The highest store a host has served (the content of `store.seen`). */
export interface SeenRecord {
  generation: number;
  hash: string;
  /** When this host first served it, ISO 8601. */
  since: string;
  /**
   * The store file's inode, size and times when recorded: a read that finds the same file at the same generation
   * takes the hash from here instead of hashing (a personal `get` then loads no node:crypto).
   */
  stamp?: string;
}

/** Returns the inode, size and times of `file` (not followed), or "missing". */
export function fileStamp(file: string): string {
  try {
    const st = lstatSync(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return "missing";
  }
}

/** What `accept-store` accepted: the store's facts, and the record it replaced (null when there was none). */
export interface Accepted {
  facts: StoreFacts;
  previous: SeenRecord | null;
}

/** Returns the hash of a store file's bytes, in hex. */
export function storeHash(bytes: Uint8Array): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

/** Returns the first 12 hex digits of a hash: enough to compare a fleet's stores by eye. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

/** Returns "generation N (sha256 SHORT), written by KEY at TIME" for a store's facts. */
export function describeFacts(facts: StoreFacts): string {
  const by = facts.writtenBy === undefined ? "" : `, written by ${facts.writtenBy} at ${facts.writtenAt ?? "?"}`;
  return `generation ${facts.generation} (sha256 ${shortHash(facts.hash)})${by}`;
}

/** Returns the facts of a parsed document and the bytes it was decrypted from. */
export function factsOf(doc: StoreDocument, hash: string): StoreFacts {
  const facts: StoreFacts = { generation: doc.generation ?? 0, hash };
  if (doc.written !== undefined) {
    facts.writtenBy = doc.written.by;
    facts.writtenAt = doc.written.at;
  }
  return facts;
}

/**
 * Sets `doc`'s generation above its own and every one in `above` (a merge passes both sides), and records the writer.
 */
export function raiseGeneration(doc: StoreDocument, writer: string, above: number[] = []): void {
  doc.version = VERSION;
  doc.generation = Math.max(doc.generation ?? 0, ...above) + 1;
  doc.written = { by: writer, at: new Date().toISOString() };
}

/** How a store compares with the record: "same", "newer" (record it), or refused as "older" or "fork". */
export type Comparison = "same" | "newer" | "older" | "fork";

/** Compares `facts` with `seen` (null: nothing recorded yet, so anything is newer). */
export function compareWithSeen(facts: StoreFacts, seen: SeenRecord | null): Comparison {
  if (seen === null || facts.generation > seen.generation) return "newer";
  if (facts.generation < seen.generation) return "older";
  return facts.hash === seen.hash ? "same" : "fork";
}

/**
 * Reads the record at `file`; null when there is none. Throws AccessError (4) for an unsafe file or a symlink,
 * StaleStoreError (5) for a record that is not one (refusing is safer than forgetting what was seen).
 */
export async function readSeen(file: string): Promise<SeenRecord | null> {
  const bytes = await readPrivateFile(file, {
    what: "record of the newest store served",
    forbiddenMode: 0o077,
    maxBytes: 4096,
  });
  if (bytes === null) return null;
  try {
    const data = JSON.parse(bytes.toString("utf8")) as Partial<SeenRecord>;
    if (Number.isSafeInteger(data.generation) && (data.generation as number) >= 0 && typeof data.hash === "string")
      return {
        generation: data.generation!,
        hash: data.hash,
        since: typeof data.since === "string" ? data.since : "",
        stamp: typeof data.stamp === "string" ? data.stamp : undefined,
      };
  } catch {
    // reported below
  }
  throw new StaleStoreError(`${file} is damaged: it is not a record of the newest store served`, {
    hint: `check the store, then \`secretfile accept-store\` writes the record again`,
  });
}

/** Replaces the record at `file` with `facts` atomically (mode 0600, never through a symlink). */
export async function writeSeen(file: string, facts: StoreFacts, stamp: string): Promise<SeenRecord> {
  const record: SeenRecord = { generation: facts.generation, hash: facts.hash, since: new Date().toISOString(), stamp };
  await replaceFile(file, new TextEncoder().encode(JSON.stringify(record) + "\n"), 0o600);
  return record;
}

/** Returns the error for a store `comparison` refused: what is on disk, what was served, and the two ways out. */
export function refusal(
  store: string,
  facts: StoreFacts,
  seen: SeenRecord,
  comparison: "older" | "fork",
): StaleStoreError {
  const what =
    comparison === "older"
      ? `is generation ${facts.generation}, older than generation ${seen.generation} (${shortHash(seen.hash)}) this host has served`
      : `is another store at generation ${facts.generation} (${shortHash(facts.hash)}) than the one this host has served (${shortHash(seen.hash)}): a fork`;
  return new StaleStoreError(`refusing the store ${store}: it ${what}`, {
    hint: "put the newer store back in its place; to use this one on purpose, `secretfile accept-store` (root in system mode)",
  });
}
