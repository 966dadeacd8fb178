// An in-memory agent for the role table: fake callers, a store document in memory, the policy parsed from text and an
// audit log that records into an array, around the real request handler (src/agent/handle.ts).
// Rules: no file, socket or root needed; every call starts from the same store, so cells never depend on each other.

import { randomBytes } from "node:crypto";
import { Approvals } from "../../src/agent/approvals.js";
import type { IdentifiedCaller } from "../../src/agent/caller.js";
import { stampOf, type PendingChange } from "../../src/agent/pending-change.js";
import { MemoryPending } from "../../src/agent/pending-files.js";
import { handle, type AgentContext } from "../../src/agent/handle.js";
import type { AuditLog } from "../../src/agent/audit.js";
import type { PolicyState } from "../../src/agent/policy-state.js";
import { LastReads } from "../../src/audit/last-read.js";
import type { AuditDecision, AuditRecord } from "../../src/audit/record.js";
import { parsePolicy } from "../../src/policy/parse.js";
import { errorAnswer, parseRequest, type Answer, type ErrorAnswer, type Request } from "../../src/protocol/wire.js";
import { parseDocument, serializeDocument, type StoreDocument } from "../../src/store/document.js";
import { storePaths, type Store } from "../../src/store/store.js";
import { APPROVED, policyText, SEEDED, STORE_NAMES, type RoleId } from "./table.js";

const DIR = "/var/lib/secretfile";
const POLICY = "/etc/secretfile/policy";
export const STORE_FILE = `${DIR}/store.age`;

/** The callers, as describeCaller (src/agent/caller.ts) would make them from SO_PEERCRED and the user database. */
export const CALLERS: Record<RoleId, IdentifiedCaller> = {
  root: caller(0, "root", [[0, "root"]]),
  service: caller(998, "secretfile", [[998, "secretfile"]]),
  writer: caller(1001, "admin", [[1001, "admin"]]),
  reader: caller(1002, "job", [[1002, "job"]]),
  mixed: caller(1003, "deploy", [[1003, "deploy"]]),
  stranger: caller(1004, "guest", [[1004, "guest"]]),
  nopasswd: caller(61234, undefined, [[61234, undefined]]),
  // Primary group its own; `team` only as a supplementary group.
  member: caller(1005, "member", [
    [1005, "member"],
    [2000, "team"],
  ]),
  approver: caller(1006, "approver", [
    [1006, "approver"],
    [2001, "approvers"],
  ]),
};
/** The other member of `approvers`, who asked for the pending change every cell starts from. */
const REQUESTER = caller(1007, "approver2", [
  [1007, "approver2"],
  [2001, "approvers"],
]);

function caller(uid: number, user: string | undefined, groups: [number, string | undefined][]): IdentifiedCaller {
  return {
    uid,
    gid: groups[0]![0],
    user,
    groups: groups.map(([gid, name]) => ({ gid, name })),
    pid: 4242,
    program: "/usr/bin/node",
    cmdline: "node secretfile",
  };
}

/** The policy every cell is decided under (RULES of table.ts, spelled for CALLERS). */
export const POLICY_TEXT = policyText((role) =>
  role.subject === "uid"
    ? `uid:${CALLERS[role.id].uid}`
    : role.subject === "group"
      ? `group:${role.group}`
      : `user:${CALLERS[role.id].user}`,
);
const policy = parsePolicy(POLICY_TEXT, POLICY);

const hex = () => randomBytes(12).toString("hex");
/** Each stored secret's current and earlier value: random, so any copy of one in an output is found. */
export const VALUES = new Map(STORE_NAMES.map((name) => [name, { current: `cur-${hex()}`, earlier: `old-${hex()}` }]));
/** The new value of the pending change every cell starts from. */
const SEEDED_VALUE = `pending-${hex()}`;
/** Every value the store holds, and the pending change's. */
export const ALL_VALUES = [...[...VALUES.values()].flatMap((v) => [v.current, v.earlier]), SEEDED_VALUE];

// Written as JSON, not through putSecret: the store is one written before reserved names were refused.
const BASE = serializeDocument(
  JSON.parse(
    JSON.stringify({
      format: "secretfile-store",
      version: 1,
      secrets: Object.fromEntries(
        STORE_NAMES.map((n) => [
          n,
          {
            value: VALUES.get(n)!.current,
            created: "2026-01-01T00:00:00.000Z",
            updated: "2026-02-01T00:00:00.000Z",
            description: `the ${n}`,
          },
        ]),
      ),
      history: Object.fromEntries(
        STORE_NAMES.map((n) => [
          n,
          {
            version: 2,
            earlier: [
              {
                version: 1,
                value: VALUES.get(n)!.earlier,
                since: "2026-01-01T00:00:00.000Z",
                replaced: "2026-02-01T00:00:00.000Z",
              },
            ],
          },
        ]),
      ),
    }),
  ) as StoreDocument,
);

/** The pending change SEEDED (table.ts): `add --replace APPR_KEY` by REQUESTER, on the store as it is. */
const SEEDED_CHANGE: PendingChange = {
  id: SEEDED.id,
  op: "add",
  change: "add --replace",
  names: [APPROVED],
  requester: {
    uid: REQUESTER.uid,
    gid: REQUESTER.gid,
    user: REQUESTER.user,
    groups: REQUESTER.groups,
    time: "2026-03-01T00:00:00.000Z",
    pid: REQUESTER.pid,
    program: REQUESTER.program,
  },
  expires: "2999-01-01T00:00:00.000Z",
  base: { [APPROVED]: stampOf(parseDocument(BASE, STORE_FILE), APPROVED) },
  approvals: [],
  fingerprint: "0000-0000-0000-0000",
};

/** What one request did: the answer, the audit lines it wrote, and the store before and after. */
export interface Exchange {
  answer: Answer | ErrorAnswer;
  /** The answer as the agent sends it (one JSON line). */
  wire: string;
  audit: AuditDecision[];
  before: string;
  after: string;
  /** How many times the handler read the store (a refusal must not: it is decided before the store is looked at). */
  reads: number;
}

/**
 * Sends `req` (through the wire parser, as the server does) from `who`, on a fresh copy of the store; with `damaged`,
 * every read of the store throws it instead (a store the identity cannot open).
 */
export async function exchange(req: Request, who: RoleId, damaged?: Error): Promise<Exchange> {
  let doc = parseDocument(BASE, STORE_FILE);
  let reads = 0;
  const audit: AuditDecision[] = [];
  const record = (r: AuditRecord) => {
    const time = new Date().toISOString();
    audit.push({ time, ...r });
    return time;
  };
  const ctx: AgentContext = {
    store: { paths: storePaths(DIR) } as unknown as Store,
    policy: { file: POLICY, current: async () => ({ ok: true, policy }) } as unknown as PolicyState,
    audit: {
      file: "/var/log/secretfile/audit.log",
      record: async (r: AuditRecord) => record(r),
      commit: async (r: AuditRecord) => record(r),
      write: record,
      event: () => undefined,
      isFailure: () => false,
    } as unknown as AuditLog,
    lastRead: new LastReads(),
    // Who a uid is now, as the user database would say: the same callers (approvals.ts asks again at approval time).
    approvals: new Approvals(seededPending(), {
      resolve: (uid) =>
        [...Object.values(CALLERS), REQUESTER].find((c) => c.uid === uid) ?? {
          uid,
          gid: -1,
          user: undefined,
          groups: [],
        },
    }),
    read: async () => {
      reads++;
      if (damaged !== undefined) throw damaged;
      return doc;
    },
    accept: async () => ({ facts: { generation: 1, hash: "0".repeat(64) }, previous: null }),
    update: async (change) => {
      reads++;
      const next = parseDocument(serializeDocument(doc), STORE_FILE);
      const result = change(next);
      doc = next;
      return result;
    },
  };
  const before = JSON.stringify(doc);
  let answer: Answer | ErrorAnswer;
  try {
    answer = await handle(parseRequest(JSON.stringify(req)), CALLERS[who], ctx);
  } catch (err) {
    answer = errorAnswer(err);
  }
  return { answer, wire: JSON.stringify(answer), audit, before, after: JSON.stringify(doc), reads };
}

/** Pending changes in memory, holding SEEDED_CHANGE only. */
function seededPending(): MemoryPending {
  const pending = new MemoryPending(randomBytes(32));
  pending.seed(SEEDED_CHANGE, { op: "add", name: APPROVED, value: SEEDED_VALUE, opts: { replace: true } });
  return pending;
}
