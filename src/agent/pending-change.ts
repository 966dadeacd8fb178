// A change held for approval: what it would do, who asked, the secrets' stamps when asked, and its keyed fingerprint.
// Rules: the values live only inside (the file holding it is encrypted); the fingerprint is HMAC-SHA-256 under a key
// only the agent holds, over the change's id, names and new values, so it can be compared but not used to guess.

import { createHmac, hkdfSync } from "node:crypto";
import { CorruptError } from "../errors.js";
import type { Caller } from "../policy/evaluate.js";
import type { PersonInfo } from "../protocol/pending.js";
import { entryOf, type StoreDocument } from "../store/document.js";
import { importSecrets, putSecret, removeSecret, rollbackSecret, type AddOptions } from "../store/operations.js";

/** What a pending change does when applied: the request as the agent validated it (rollback's version resolved). */
export type ChangeRequest =
  | { op: "add"; name: string; value: string; opts: AddOptions }
  | { op: "rm"; name: string }
  | { op: "rollback"; name: string; to: number }
  | { op: "import"; secrets: { name: string; value: string }[]; replace: boolean };

/** A person as the change keeps them: enough to count them under the policy later. */
export interface Person extends Caller {
  /** ISO 8601: when they asked or approved. */
  time: string;
}

/** A change waiting for approval. */
export interface PendingChange {
  id: string;
  request: ChangeRequest;
  requester: Person & { pid: number; program: string | undefined };
  /** ISO 8601, UTC. */
  expires: string;
  /** Each name's stamp at request time (stampOf): the change applies only to the secrets as they were. */
  base: Record<string, string>;
  approvals: Person[];
  fingerprint: string;
}

const FORMAT = "secretfile-pending";

/** Returns the names a change touches, in its order. */
export function namesOf(request: ChangeRequest): string[] {
  return request.op === "import" ? request.secrets.map((s) => s.name) : [request.name];
}

/** Returns the change as a person reads it: `add --replace`, `rollback --to 3`, `import --replace`. */
export function describeChange(request: ChangeRequest): string {
  if (request.op === "add") return request.opts.replace === true ? "add --replace" : "add";
  if (request.op === "rollback") return `rollback --to ${request.to}`;
  if (request.op === "import") return request.replace ? "import --replace" : "import";
  return "rm";
}

/** Returns a secret's stamp: its version and `updated` time, or `absent`; any write of it changes the stamp. */
export function stampOf(doc: StoreDocument, name: string): string {
  const secret = entryOf(doc.secrets, name);
  return secret === undefined ? "absent" : `v${entryOf(doc.history, name)?.version ?? 1}@${secret.updated}`;
}

/** Returns the names of `change` whose secret is not as it was when the change was asked for (empty: none). */
export function changedSince(doc: StoreDocument, change: PendingChange): string[] {
  return namesOf(change.request).filter((name) => stampOf(doc, name) !== change.base[name]);
}

/**
 * Applies `request` to `doc` as the direct request would have (the same checks, the same errors: ExistsError,
 * NotFoundError, UsageError). Returns the value each name has afterwards (undefined once removed).
 */
export function applyChange(doc: StoreDocument, request: ChangeRequest, file: string): Map<string, string | undefined> {
  if (request.op === "add") putSecret(doc, request.name, request.value, request.opts, file);
  else if (request.op === "rm") removeSecret(doc, request.name, file);
  else if (request.op === "rollback") rollbackSecret(doc, request.name, request.to, file);
  else importSecrets(doc, request.secrets, request.replace, file);
  return new Map(namesOf(request).map((name) => [name, entryOf(doc.secrets, name)?.value]));
}

const FINGERPRINT_LABEL = "secretfile pending-change fingerprint v1";

/** Returns the fingerprint key: HKDF-SHA-256 of the host identity under a fixed label (never stored, never logged). */
export function fingerprintKey(identity: string): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.from(identity, "utf8"), Buffer.alloc(0), FINGERPRINT_LABEL, 32));
}

/**
 * Returns the fingerprint of change `id`: HMAC-SHA-256 under `key` of the id and each name with its new value (names
 * and values hold no NUL), the first 64 bits as 4 groups of 4 hex digits. The id is in it, so the same value asked
 * for twice gets two fingerprints: a writer cannot test a guess against another change's fingerprint.
 */
export function fingerprint(key: Uint8Array, id: string, after: Map<string, string | undefined>): string {
  const mac = createHmac("sha256", key).update(`${FORMAT}\0${id}\0`);
  for (const [name, value] of [...after].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    mac.update(`${name}\0${value === undefined ? "\u0001removed" : `=${value}`}\0`);
  }
  const hex = mac.digest("hex").slice(0, 16);
  return hex.match(/.{4}/g)!.join("-");
}

/** Returns a person as the wire shows them. */
export function personInfo(p: Caller): PersonInfo {
  return p.user === undefined ? { uid: p.uid } : { uid: p.uid, user: p.user };
}

/** Returns a person as a message names them: `alice (uid 1001)` or `uid 61234`. */
export function personText(p: Caller): string {
  return p.user === undefined ? `uid ${p.uid}` : `${p.user} (uid ${p.uid})`;
}

/** Returns the bytes that get encrypted into a change's file. */
export function serializeChange(change: PendingChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ format: FORMAT, version: 1, change }));
}

/** Parses the decrypted bytes of `file`; throws CorruptError (5) when they are not a pending change. */
export function parseChange(bytes: Uint8Array, file: string): PendingChange {
  // The file is read from disk: every field is checked before it is trusted as a PendingChange.
  let data: { format?: unknown; version?: unknown; change?: { [K in keyof PendingChange]?: unknown } | null };
  try {
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as typeof data;
  } catch (cause) {
    throw damaged(file, cause);
  }
  const c = data.change;
  if (
    data.format !== FORMAT ||
    data.version !== 1 ||
    typeof c !== "object" ||
    c === null ||
    typeof c.id !== "string" ||
    !Array.isArray(c.approvals)
  ) {
    throw damaged(file);
  }
  if (
    typeof c.expires !== "string" ||
    typeof c.base !== "object" ||
    typeof c.request !== "object" ||
    typeof c.requester !== "object"
  )
    throw damaged(file);
  return c as PendingChange;
}

function damaged(file: string, cause?: unknown): CorruptError {
  return new CorruptError(`the pending change ${file} is damaged or not a pending change`, {
    hint: `move it aside (the change is then lost; the requester can ask again) and see the agent's audit log for what it was`,
    cause,
  });
}
