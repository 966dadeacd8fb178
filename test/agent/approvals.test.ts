// Approvals in-process: the agent's request handler (src/agent/handle.ts) with an in-memory store, in-memory pending
// changes and a clock the test moves. Each test tries to get a change applied that must not be: by the requester
// alone, by an outsider, twice by one uid, after expiry, after the secret changed; and checks every step's audit line.

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Approvals } from "../../src/agent/approvals.js";
import type { IdentifiedCaller } from "../../src/agent/caller.js";
import { handle, type AgentContext } from "../../src/agent/handle.js";
import type { AuditLog } from "../../src/agent/audit.js";
import type { PendingLimits } from "../../src/agent/pending-limits.js";
import { fingerprint, fingerprintKey } from "../../src/agent/pending-change.js";
import { MemoryPending } from "../../src/agent/pending-files.js";
import type { PolicyState } from "../../src/agent/policy-state.js";
import { LastReads } from "../../src/audit/last-read.js";
import type { AuditDecision, AuditRecord } from "../../src/audit/record.js";
import { ExitCode } from "../../src/errors.js";
import type { Caller } from "../../src/policy/evaluate.js";
import { parsePolicy } from "../../src/policy/parse.js";
import { errorAnswer, errorFromAnswer, parseRequest, type Answer, type ErrorAnswer } from "../../src/protocol/wire.js";
import { emptyDocument, parseDocument, serializeDocument, type StoreDocument } from "../../src/store/document.js";
import { putSecret } from "../../src/store/operations.js";
import { storePaths, type Store } from "../../src/store/store.js";

const POLICY = [
  "write group:secops *",
  "write user:lone *",
  "read user:job *",
  "approve 2 group:secops MERAKI_* WEBEX_*",
  "approve 3 expires=1h group:secops TRIPLE_*",
].join("\n");

function who(uid: number, user: string, groups: string[] = []): IdentifiedCaller {
  return {
    uid,
    gid: uid,
    user,
    groups: [{ gid: uid, name: user }, ...groups.map((g, i) => ({ gid: 7000 + i, name: g }))],
    pid: 100 + uid,
    program: "/usr/bin/node",
    cmdline: "node secretfile",
  };
}
const alice = who(1001, "alice", ["secops"]);
const bob = who(1002, "bob", ["secops"]);
const carol = who(1003, "carol", ["secops"]);
const lone = who(1004, "lone");
const job = who(1005, "job");
const root = who(0, "root");

/** A person as the user database says it is now (approvals.ts asks again at approval time). */
const entryOf = (c: IdentifiedCaller): Caller => ({ uid: c.uid, gid: c.gid, user: c.user, groups: c.groups });
const nobody = (uid: number): Caller => ({ uid, gid: -1, user: undefined, groups: [] });

/**
 * An agent in memory: the handler, a store document, pending changes in memory, an audit array, a clock and a user
 * database the test can change; `limits` of pending changes as SECRETFILE_AGENT_LIMITS would set them.
 */
function agent(policyText = POLICY, limits: Partial<PendingLimits> = {}) {
  const directory = new Map([alice, bob, carol, lone, job, root].map((c) => [c.uid, entryOf(c)]));
  const policy = parsePolicy(policyText, "/etc/secretfile/policy");
  let doc: StoreDocument = emptyDocument();
  putSecret(doc, "MERAKI_API_KEY", "old-value", {}, "store.age");
  putSecret(doc, "TRIPLE_KEY", "old-triple", {}, "store.age");
  const audit: AuditDecision[] = [];
  let clock = Date.parse("2026-12-01T10:00:00.000Z");
  const pending = new MemoryPending(fingerprintKey("AGE-SECRET-KEY-1TEST"));
  let writes = 0;
  /** The last audit line before each write: an applied change's line is written before the change (invariant 9). */
  const lastBeforeWrite: string[] = [];
  const ctx: AgentContext = {
    store: { paths: storePaths("/nonexistent/state") } as unknown as Store,
    policy: { file: policy.file, current: async () => ({ ok: true, policy }) } as unknown as PolicyState,
    audit: {
      record: async (r: AuditRecord) => (audit.push({ time: new Date().toISOString(), ...r }), ""),
      commit: async (r: AuditRecord) => (audit.push({ time: new Date().toISOString(), ...r }), ""),
      event: () => undefined,
      isFailure: () => false,
    } as unknown as AuditLog,
    lastRead: new LastReads(),
    read: async () => doc,
    accept: () => Promise.reject(new Error("not used here")),
    update: async (change) => {
      lastBeforeWrite.push(audit.at(-1)?.reason ?? "");
      const next = parseDocument(serializeDocument(doc), "store.age");
      const result = change(next);
      doc = next;
      writes++;
      return result;
    },
    approvals: new Approvals(pending, {
      now: () => clock,
      resolve: (uid) => directory.get(uid) ?? nobody(uid),
      limits,
    }),
  };
  const send = async (req: object, caller: IdentifiedCaller): Promise<Answer | ErrorAnswer> => {
    try {
      return await handle(parseRequest(JSON.stringify({ v: 1, ...req })), caller, ctx);
    } catch (err) {
      return errorAnswer(err);
    }
  };
  return {
    send,
    audit,
    pending,
    directory,
    value: (name: string) => doc.secrets[name]?.value,
    writes: () => writes,
    lastBeforeWrite,
    tick: (ms: number) => (clock += ms),
    setDoc: (fn: (d: StoreDocument) => void) => fn(doc),
    /** Asks for a change as `caller`; returns the id the pending error names. */
    async ask(
      req: object,
      caller: IdentifiedCaller,
    ): Promise<{ id: string; fingerprint: string; answer: ErrorAnswer }> {
      const answer = (await send(req, caller)) as ErrorAnswer;
      expect(answer, JSON.stringify(answer)).toMatchObject({ ok: false, error: { code: "pending" } });
      const m = /as change ([0-9a-f]{12}), fingerprint ([0-9a-f]{4}(?:-[0-9a-f]{4}){3})/.exec(answer.error.message)!;
      return { id: m[1]!, fingerprint: m[2]!, answer };
    },
  };
}

describe("a change under an approve rule", () => {
  it("is held, not applied: exit 7 with its id, fingerprint and who may approve; get still gives the old value", async () => {
    const a = agent();
    const value = `new-${randomBytes(8).toString("hex")}`;
    const {
      id,
      fingerprint: fp,
      answer,
    } = await a.ask({ op: "add", name: "MERAKI_API_KEY", value, replace: true }, alice);
    expect(errorFromAnswer(answer).exitCode).toBe(ExitCode.pending);
    expect(ExitCode.pending).toBe(7);
    expect(answer.error.hint).toMatch(/needs 1 more of group:secops \(`secretfile approve [0-9a-f]{12}`\)/);
    expect(a.value("MERAKI_API_KEY")).toBe("old-value");
    expect(await a.send({ op: "get", name: "MERAKI_API_KEY" }, job)).toEqual({
      ok: true,
      op: "get",
      value: "old-value",
    });
    expect(a.writes()).toBe(0);
    // The fingerprint is the keyed HMAC over the id and the new value, and differs for another key.
    const key = fingerprintKey("AGE-SECRET-KEY-1TEST");
    expect(fp).toBe(fingerprint(key, id, new Map([["MERAKI_API_KEY", value]])));
    expect(fp).not.toBe(fingerprint(fingerprintKey("AGE-SECRET-KEY-1OTHER"), id, new Map([["MERAKI_API_KEY", value]])));
    expect(a.audit[0]).toMatchObject({ op: "add", uid: alice.uid, allowed: false, names: ["MERAKI_API_KEY"] });
    expect(a.audit[0]!.reason).toMatch(new RegExp(`^held for approval as change ${id} \\(fingerprint ${fp}`));
    expect(JSON.stringify(a.audit)).not.toContain(value);
  });

  it("is applied by a second member, once; the requester and an outsider are refused first", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "add", name: "MERAKI_API_KEY", value: "v2", replace: true }, alice);
    expect(await a.send({ op: "approve", id }, alice)).toMatchObject({
      ok: false,
      error: { code: "denied", message: expect.stringMatching(/may not approve its own change/) },
    });
    expect(await a.send({ op: "approve", id }, lone)).toMatchObject({ ok: false, error: { code: "denied" } });
    expect(await a.send({ op: "approve", id }, job)).toMatchObject({ ok: false, error: { code: "denied" } });
    expect(a.value("MERAKI_API_KEY")).toBe("old-value");
    expect(await a.send({ op: "approve", id }, bob)).toEqual({
      ok: true,
      op: "approve",
      id,
      state: "applied",
      counted: true,
      needs: [],
    });
    expect(a.value("MERAKI_API_KEY")).toBe("v2");
    expect(a.writes()).toBe(1);
    expect(a.lastBeforeWrite).toEqual([
      expect.stringMatching(
        /^applied change [0-9a-f]{12} \(add --replace MERAKI_API_KEY, requested by alice \(uid 1001\)\), approved by bob \(uid 1002\)/,
      ),
    ]);
    expect(await a.send({ op: "approve", id }, carol)).toMatchObject({ ok: false, error: { code: "not-found" } });
    const steps = a.audit.map((l) => [l.op, l.uid, l.allowed, l.reason.split(" ")[0]]);
    expect(steps).toEqual([
      ["add", alice.uid, false, "held"],
      ["approve", alice.uid, false, "the"],
      ["approve", lone.uid, false, "no"],
      ["approve", job.uid, false, "no"],
      ["approve", bob.uid, true, "applied"],
      ["approve", carol.uid, false, "not-found"],
    ]);
  });

  it("counts a uid once: a second approval by the same member does not apply a change that needs three", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "rm", name: "TRIPLE_KEY" }, alice);
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({
      state: "pending",
      counted: true,
      needs: [{ missing: 1 }],
    });
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({
      state: "pending",
      counted: false,
      needs: [{ missing: 1 }],
    });
    expect(a.value("TRIPLE_KEY")).toBe("old-triple");
    expect(await a.send({ op: "approve", id }, carol)).toMatchObject({ state: "applied" });
    expect(a.value("TRIPLE_KEY")).toBeUndefined();
  });

  it("counts approvals asked at once each once (one queue)", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "add", name: "TRIPLE_KEY", value: "t2", replace: true }, alice);
    const got = await Promise.all([
      a.send({ op: "approve", id }, bob),
      a.send({ op: "approve", id }, carol),
      a.send({ op: "approve", id }, bob),
    ]);
    expect(got.map((g) => ("state" in g ? g.state : g.ok))).toEqual(["pending", "applied", false]);
    expect(a.value("TRIPLE_KEY")).toBe("t2");
    expect(a.writes()).toBe(1);
  });

  it("expires: after its time it is gone, audited as expired, and cannot be approved", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "add", name: "TRIPLE_KEY", value: "t3", replace: true }, alice);
    a.tick(3600_000 + 1);
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({ ok: false, error: { code: "not-found" } });
    expect(a.pending.changes.size).toBe(0);
    expect(a.audit.find((l) => l.op === "expire")).toMatchObject({
      names: ["TRIPLE_KEY"],
      allowed: false,
      reason: expect.stringMatching(new RegExp(`^expired: change ${id}`)),
    });
    expect(a.value("TRIPLE_KEY")).toBe("old-triple");
  });

  it("is void when the secret changed since the request, and says so", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "add", name: "MERAKI_API_KEY", value: "v2", replace: true }, alice);
    a.setDoc((d) => putSecret(d, "MERAKI_API_KEY", "changed-by-root", { replace: true }, "store.age"));
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({
      state: "voided",
      reason: "MERAKI_API_KEY changed since the request",
    });
    expect(a.value("MERAKI_API_KEY")).toBe("changed-by-root");
    expect(a.audit.at(-1)).toMatchObject({
      op: "approve",
      allowed: false,
      reason: expect.stringMatching(/^voided change/),
    });
    expect(a.pending.changes.size).toBe(0);
  });

  it("can be rejected by a member or its requester, not by an outsider", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "rm", name: "MERAKI_API_KEY" }, alice);
    expect(await a.send({ op: "reject", id }, job)).toMatchObject({ ok: false, error: { code: "denied" } });
    expect(await a.send({ op: "reject", id }, carol)).toEqual({ ok: true, op: "reject", id });
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({ ok: false, error: { code: "not-found" } });
    expect(a.value("MERAKI_API_KEY")).toBe("old-value");
    expect(a.audit.find((l) => l.op === "reject" && l.allowed)!.reason).toMatch(/^rejected change/);
  });

  it("is listed for its requester and its approvers, never with a value, and not for others", async () => {
    const a = agent();
    await a.ask({ op: "import", secrets: [{ name: "WEBEX_TOKEN", value: "imported-secret" }] }, alice);
    const mine = await a.send({ op: "pending" }, alice);
    const theirs = await a.send({ op: "pending" }, bob);
    expect(mine).toMatchObject({
      ok: true,
      changes: [
        {
          op: "import",
          change: "import",
          names: ["WEBEX_TOKEN"],
          requester: { uid: alice.uid, user: "alice" },
          needs: [{ missing: 1 }],
        },
      ],
    });
    expect(theirs).toEqual(mine);
    expect(await a.send({ op: "pending" }, lone)).toEqual({ ok: true, op: "pending", changes: [] });
    expect(await a.send({ op: "pending" }, job)).toMatchObject({ ok: false, error: { code: "denied" } });
    expect(JSON.stringify([mine, a.audit])).not.toContain("imported-secret");
  });

  it("does not hold a change the store would refuse anyway (exists), nor one no rule gives", async () => {
    const a = agent();
    expect(await a.send({ op: "add", name: "MERAKI_API_KEY", value: "x" }, alice)).toMatchObject({
      ok: false,
      error: { code: "exists" },
    });
    expect(await a.send({ op: "add", name: "OTHER_KEY", value: "x" }, alice)).toEqual({ ok: true, op: "add" });
    expect(a.pending.changes.size).toBe(0);
  });

  it("root: its own change waits too; its approval counts as one person; --force applies at once, audited as a bypass", async () => {
    const a = agent();
    const own = await a.ask({ op: "add", name: "TRIPLE_KEY", value: "by-root", replace: true }, root);
    expect(await a.send({ op: "approve", id: own.id }, root)).toMatchObject({
      ok: false,
      error: { code: "denied", hint: expect.stringMatching(/--force/) },
    });
    expect(await a.send({ op: "approve", id: own.id, force: true }, bob)).toMatchObject({
      ok: false,
      error: { code: "denied" },
    });
    expect(await a.send({ op: "approve", id: own.id, force: true }, root)).toMatchObject({
      state: "applied",
      bypass: true,
    });
    expect(a.value("TRIPLE_KEY")).toBe("by-root");
    expect(a.audit.at(-1)).toMatchObject({
      op: "approve",
      uid: 0,
      allowed: true,
      reason: expect.stringMatching(/^BYPASS: root applied change/),
    });
    const theirs = await a.ask({ op: "add", name: "MERAKI_API_KEY", value: "v3", replace: true }, alice);
    expect(await a.send({ op: "approve", id: theirs.id }, root)).toEqual({
      ok: true,
      op: "approve",
      id: theirs.id,
      state: "applied",
      counted: true,
      needs: [],
    });
  });

  it("a requester its rule does not name (a writer outside the group) needs N others of it", async () => {
    const a = agent();
    const { id, answer } = await a.ask({ op: "add", name: "MERAKI_API_KEY", value: "by-lone", replace: true }, lone);
    expect(answer.error.hint).toMatch(/needs 2 more of group:secops/);
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({ state: "pending", needs: [{ missing: 1 }] });
    expect(await a.send({ op: "approve", id }, carol)).toMatchObject({ state: "applied" });
    expect(a.value("MERAKI_API_KEY")).toBe("by-lone");
  });

  it("gives the same value asked for twice two fingerprints (the id is in it): no guess can be tested against another's", async () => {
    const a = agent();
    const one = await a.ask({ op: "add", name: "MERAKI_API_KEY", value: "same", replace: true }, alice);
    const two = await a.ask({ op: "add", name: "MERAKI_API_KEY", value: "same", replace: true }, bob);
    expect(one.id).not.toBe(two.id);
    expect(one.fingerprint).not.toBe(two.fingerprint);
  });

  it("rolls back to the version resolved at request time", async () => {
    const a = agent();
    a.setDoc((d) => putSecret(d, "MERAKI_API_KEY", "second", { replace: true }, "store.age"));
    const { id } = await a.ask({ op: "rollback", name: "MERAKI_API_KEY" }, alice);
    expect((await a.send({ op: "pending" }, bob)) as unknown).toMatchObject({
      changes: [{ id, change: "rollback --to 1" }],
    });
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({ state: "applied" });
    expect(a.value("MERAKI_API_KEY")).toBe("old-value");
  });
});

describe("the people of a change, as they are at approval time (issue 26, finding 4)", () => {
  /** Takes `group` from the user database's entry of `who`, as `gpasswd -d` would. */
  const leave = (a: ReturnType<typeof agent>, who: IdentifiedCaller, group: string) => {
    const entry = a.directory.get(who.uid)!;
    a.directory.set(who.uid, { ...entry, groups: entry.groups.filter((g) => g.name !== group) });
  };

  it("voids the change of a requester removed from the group that let it write: not applied, audited, said to the approver", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "add", name: "MERAKI_API_KEY", value: "by-alice", replace: true }, alice);
    leave(a, alice, "secops");
    expect(await a.send({ op: "approve", id }, bob)).toEqual({
      ok: true,
      op: "approve",
      id,
      state: "voided",
      counted: true,
      needs: [],
      reason: "the requester alice (uid 1001) may no longer write MERAKI_API_KEY",
    });
    expect(a.value("MERAKI_API_KEY")).toBe("old-value");
    expect(a.writes()).toBe(0);
    expect(a.pending.changes.size).toBe(0);
    expect(a.audit.at(-1)).toMatchObject({
      op: "approve",
      uid: bob.uid,
      allowed: false,
      reason: expect.stringMatching(
        new RegExp(`^voided change ${id} .*may no longer write MERAKI_API_KEY; nothing applied$`),
      ),
    });
  });

  it("voids it at an approval that is not the last one too (a change that needs three)", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "rm", name: "TRIPLE_KEY" }, alice);
    leave(a, alice, "secops");
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({ state: "voided" });
    expect(await a.send({ op: "approve", id }, carol)).toMatchObject({ ok: false, error: { code: "not-found" } });
    expect(a.value("TRIPLE_KEY")).toBe("old-triple");
  });

  it("voids it when the requester's uid now belongs to another user", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "add", name: "MERAKI_API_KEY", value: "by-alice", replace: true }, alice);
    a.directory.set(alice.uid, { ...a.directory.get(alice.uid)!, user: "mallory" });
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({
      state: "voided",
      reason: "uid 1001 is no longer alice (uid 1001)",
    });
    expect(a.value("MERAKI_API_KEY")).toBe("old-value");
  });

  it("no longer counts an earlier approver removed from the group: the change waits for one more", async () => {
    const a = agent();
    const { id } = await a.ask({ op: "add", name: "TRIPLE_KEY", value: "t4", replace: true }, alice);
    expect(await a.send({ op: "approve", id }, bob)).toMatchObject({ state: "pending", needs: [{ missing: 1 }] });
    leave(a, bob, "secops");
    expect(await a.send({ op: "pending" }, carol)).toMatchObject({ changes: [{ id, needs: [{ missing: 2 }] }] });
    expect(await a.send({ op: "approve", id }, carol)).toMatchObject({ state: "pending", needs: [{ missing: 1 }] });
    expect(a.value("TRIPLE_KEY")).toBe("old-triple");
    expect(await a.send({ op: "approve", id }, root)).toMatchObject({ state: "applied" });
    expect(a.value("TRIPLE_KEY")).toBe("t4");
  });
});

describe("the limits of pending changes (issue 26, finding 3)", () => {
  const add = (n: number, value = "v") => ({ op: "add", name: `MERAKI_${n}`, value });
  const refusals = (a: ReturnType<typeof agent>) =>
    a.audit.filter((l) => l.reason.startsWith("refused: the change was not kept for approval"));

  it("refuses a requester's change past pendingPerUid (exit 1, which limit, what to do), audits the first refusal only, and keeps serving another requester", async () => {
    const a = agent(POLICY, { maxPendingPerUid: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await a.ask(add(i), alice)).id);
    for (let i = 3; i < 10; i++) {
      const answer = (await a.send(add(i), alice)) as ErrorAnswer;
      expect(answer.ok).toBe(false);
      expect(errorFromAnswer(answer).exitCode).toBe(ExitCode.failure);
      expect(answer.error.code).not.toBe("busy"); // waiting does not help: the client must not retry it
      expect(answer.error.message).toBe(
        `the change was not kept for approval: add MERAKI_${i}: alice (uid 1001) has 3 pending changes, the most one requester may have`,
      );
      expect(answer.error.hint).toMatch(/secretfile reject ID.*pendingPerUid in SECRETFILE_AGENT_LIMITS/);
    }
    expect(a.pending.changes.size).toBe(3);
    expect(refusals(a)).toHaveLength(1);
    expect(refusals(a)[0]).toMatchObject({ op: "add", uid: alice.uid, allowed: false, names: ["MERAKI_3"] });
    // Only the held changes and the one refusal: nothing per refused request.
    expect(a.audit).toHaveLength(4);
    await a.ask(add(20), bob);
    // One of alice's gone: she may hold another, and her next refusal is audited again.
    expect(await a.send({ op: "reject", id: ids[0]! }, alice)).toMatchObject({ ok: true });
    await a.ask(add(21), alice);
    expect(await a.send(add(22), alice)).toMatchObject({ ok: false, error: { code: "failure" } });
    expect(await a.send(add(23), alice)).toMatchObject({ ok: false, error: { code: "failure" } });
    expect(refusals(a)).toHaveLength(2);
  });

  it("frees the place of an expired change: the sweep comes before the count", async () => {
    const a = agent(POLICY, { maxPendingPerUid: 1 });
    await a.ask({ op: "rm", name: "TRIPLE_KEY" }, alice);
    expect(await a.send(add(1), alice)).toMatchObject({ ok: false, error: { code: "failure" } });
    a.tick(3600_000 + 1);
    await a.ask(add(1), alice);
  });

  it("refuses past the count of all requesters together (pending), audited once", async () => {
    const a = agent(POLICY, { maxPending: 4 });
    await a.ask(add(1), alice);
    await a.ask(add(2), alice);
    await a.ask(add(3), bob);
    await a.ask(add(4), carol);
    for (const who of [alice, bob, carol, root]) {
      expect(await a.send(add(5), who)).toMatchObject({
        ok: false,
        error: {
          code: "failure",
          message: expect.stringMatching(/the agent keeps 4 pending changes, the most it keeps$/),
        },
      });
    }
    expect(refusals(a)).toHaveLength(1);
  });

  it("counts bytes, not only changes: an import too large for the requester's bytes is refused, a small change still fits", async () => {
    const a = agent(POLICY, { maxPendingBytesPerUid: 64 * 1024 });
    const secrets = Array.from({ length: 4 }, (_, i) => ({ name: `WEBEX_${i}`, value: "x".repeat(20_000) }));
    const answer = (await a.send({ op: "import", secrets }, alice)) as ErrorAnswer;
    expect(answer.error.message).toMatch(
      /^the change was not kept for approval: import WEBEX_0 WEBEX_1 WEBEX_2 and 1 more: alice \(uid 1001\)'s pending changes would take \d+ bytes, more than the 65536 one requester may have$/,
    );
    expect(a.pending.changes.size).toBe(0);
    await a.ask({ op: "import", secrets: secrets.slice(0, 2) }, alice);
    await a.ask(add(1), alice);
    expect(await a.send({ op: "import", secrets: secrets.slice(2) }, alice)).toMatchObject({
      ok: false,
      error: { code: "failure" },
    });
    expect(await a.send({ op: "import", secrets: secrets.slice(2) }, bob)).toMatchObject({
      error: { code: "pending" },
    });
  });

  it("counts bytes of all requesters together (pendingBytes)", async () => {
    const a = agent(POLICY, { maxPendingBytes: 100 * 1024 });
    const big = "y".repeat(60_000);
    await a.ask(add(1, big), alice);
    expect(await a.send(add(2, big), bob)).toMatchObject({
      ok: false,
      error: {
        message: expect.stringMatching(/more than the 102400 the agent keeps$/),
        hint: expect.stringMatching(/pendingBytes/),
      },
    });
  });
});
