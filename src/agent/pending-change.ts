// A change held for approval: what it would do, who asked, the secrets' stamps when asked, and its keyed fingerprint.
// Rules: the values live only in the request, which is only ever sealed; the metadata holds no value (so it can be
// listed without decrypting anything); the fingerprint is HMAC-SHA-256 under a key only the agent holds, over the
// change's id, names and new values, so it can be compared but not used to guess; what is read back is checked whole.

import { createHmac, hkdfSync } from "node:crypto";
import { CorruptError } from "../errors.js";
import type { Caller } from "../policy/evaluate.js";
import type { ChangeOp, PersonInfo } from "../protocol/pending.js";
import { entryOf, type StoreDocument } from "../store/document.js";
import { isValidName } from "../store/names.js";
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

/**
 * A change waiting for approval, as the agent keeps it in memory and in its plaintext metadata file: what it does and
 * to which names, who asked and agreed, never a value (the request, values included, is in its sealed file only).
 */
export interface PendingChange {
  id: string;
  op: ChangeOp;
  /** The change as a person reads it (describeChange): `add --replace`, `rollback --to 3`. */
  change: string;
  /** The names it touches, in the request's order. */
  names: string[];
  requester: Person & { pid: number; program: string | undefined };
  /** ISO 8601, UTC. */
  expires: string;
  /** Each name's stamp at request time (stampOf): the change applies only to the secrets as they were. */
  base: Record<string, string>;
  approvals: Person[];
  fingerprint: string;
}

const FORMAT = "secretfile-pending";
/** 2: metadata and request in two files (1 kept both in one sealed file, read whole to list a change). */
const VERSION = 2;

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
  return change.names.filter((name) => stampOf(doc, name) !== change.base[name]);
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

/** Returns the bytes of a change's metadata file (plaintext: no value is in it). */
export function serializeChange(change: PendingChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ format: FORMAT, version: VERSION, change }));
}

/** Returns the bytes that get encrypted into a change's sealed file: its request, values included. */
export function serializeRequest(id: string, request: ChangeRequest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ format: FORMAT, version: VERSION, id, request }));
}

/** Parses the metadata file `file` of change `id`; throws CorruptError (5) when it is not one, every field checked. */
export function parseChange(bytes: Uint8Array, file: string, id: string): PendingChange {
  const c = envelope(bytes, file).change;
  const ok =
    isRecord(c) &&
    c.id === id &&
    isOp(c.op) &&
    typeof c.change === "string" &&
    Array.isArray(c.names) &&
    c.names.length > 0 &&
    c.names.every((n: unknown) => typeof n === "string" && isValidName(n)) &&
    isPerson(c.requester) &&
    typeof c.requester.pid === "number" &&
    isOptionalString(c.requester.program) &&
    typeof c.expires === "string" &&
    !Number.isNaN(Date.parse(c.expires)) &&
    isRecord(c.base) &&
    c.names.every((n: string) => typeof (c.base as Record<string, unknown>)[n] === "string") &&
    Array.isArray(c.approvals) &&
    c.approvals.every(isPerson) &&
    typeof c.fingerprint === "string";
  if (!ok) throw damaged(file);
  return c as unknown as PendingChange;
}

/** Parses the decrypted sealed file `file` of `change`; throws CorruptError (5) unless it is that change's request. */
export function parseRequest(bytes: Uint8Array, file: string, change: PendingChange): ChangeRequest {
  const data = envelope(bytes, file);
  const r = data.request;
  const ok =
    data.id === change.id &&
    isRecord(r) &&
    r.op === change.op &&
    (r.op === "import"
      ? Array.isArray(r.secrets) &&
        typeof r.replace === "boolean" &&
        r.secrets.every((s: unknown) => isRecord(s) && typeof s.name === "string" && typeof s.value === "string")
      : typeof r.name === "string" &&
        (r.op !== "add" || (typeof r.value === "string" && isRecord(r.opts))) &&
        (r.op !== "rollback" || typeof r.to === "number"));
  if (!ok || namesOf(r as unknown as ChangeRequest).join("\0") !== change.names.join("\0")) throw damaged(file);
  return r as unknown as ChangeRequest;
}

/** Returns the JSON object a file of ours holds; throws CorruptError (5) for anything else. */
function envelope(bytes: Uint8Array, file: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw damaged(file, cause);
  }
  if (!isRecord(data) || data.format !== FORMAT || data.version !== VERSION) throw damaged(file);
  return data;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isOp(op: unknown): op is ChangeOp {
  return op === "add" || op === "rm" || op === "rollback" || op === "import";
}

function isOptionalString(v: unknown): boolean {
  return v === undefined || typeof v === "string";
}

function isPerson(p: unknown): p is Record<string, unknown> {
  return (
    isRecord(p) &&
    typeof p.uid === "number" &&
    typeof p.gid === "number" &&
    isOptionalString(p.user) &&
    typeof p.time === "string" &&
    Array.isArray(p.groups) &&
    p.groups.every((g: unknown) => isRecord(g) && typeof g.gid === "number" && isOptionalString(g.name))
  );
}

function damaged(file: string, cause?: unknown): CorruptError {
  return new CorruptError(`the pending change ${file} is damaged or not a pending change`, {
    hint: `move it and its other file (same id, .json and .age) aside: the change is then lost, the requester can ask again; the agent's audit log says what it was`,
    cause,
  });
}
