// The audit log's own defences, in-process: a refusal's line is bounded, each uid has a budget of audit bytes, a
// change's intent line is on disk before the change and a change whose line cannot be written is not made.

import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decisionLine, namesCell } from "../../src/audit/format.js";
import { parseAuditLine, type AuditDecision } from "../../src/audit/record.js";
import { AuditBudget } from "../../src/agent/audit-budget.js";
import { AuditLog } from "../../src/agent/audit.js";
import { handle, type AgentContext } from "../../src/agent/handle.js";
import type { IdentifiedCaller } from "../../src/agent/caller.js";
import { emptyDocument, type StoreDocument } from "../../src/store/document.js";
import { FailureError } from "../../src/errors.js";
import { tempDir } from "../helpers/cli.js";

const tmp = tempDir("secretfile-audit-first-");
afterAll(tmp.cleanup);

const NAMES = Array.from({ length: 3900 }, (_, i) => `N${String(i).padStart(127, "0")}`);
const stranger: IdentifiedCaller = {
  uid: 4242,
  gid: 4242,
  user: undefined,
  groups: [],
  pid: 7,
  program: "/usr/bin/node",
  cmdline: "node flood.mjs",
};
const root: IdentifiedCaller = { ...stranger, uid: 0, gid: 0, user: "root" };

/** An agent context over an in-memory document, with a real audit log in a temporary folder; `update` is recorded. */
function context(name: string, opts: { failIntent?: boolean } = {}) {
  const file = path.join(tmp.dir, `${name}.log`);
  const audit = new AuditLog(file, { bytesPerUidPerMinute: 1 << 30 });
  let doc: StoreDocument = emptyDocument();
  const events: string[] = [];
  // The log's file descriptor closed underneath it: every write fails (EBADF), as on a full disk.
  if (opts.failIntent === true) audit.close();
  const ctx: AgentContext = {
    store: {
      paths: { dir: tmp.dir, identity: "", store: path.join(tmp.dir, "store.age") },
    } as unknown as AgentContext["store"],
    policy: {
      file: "/etc/secretfile/policy",
      current: async () => ({ ok: true, policy: { file: "/etc/secretfile/policy", rules: [] } }),
    } as unknown as AgentContext["policy"],
    audit,
    lastRead: { note: () => undefined, annotate: (s: unknown) => s } as unknown as AgentContext["lastRead"],
    read: async () => doc,
    accept: () => Promise.reject(new Error("not used here")),
    update: async (change) => {
      events.push(`update (log has ${lines().length} lines)`);
      const draft = structuredClone(doc);
      const result = change(draft);
      doc = draft;
      return result;
    },
  };
  const lines = () =>
    readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "");
  return { ctx, audit, lines, events, doc: () => doc };
}

describe("a refusal's audit line", () => {
  it("keeps the refused name and a count, not 3,900 names of 128 characters", async () => {
    const { ctx, lines } = context("bounded");
    await expect(handle({ v: 1, op: "values", names: NAMES }, stranger, ctx)).rejects.toMatchObject({ exitCode: 4 });
    const [line] = lines();
    expect(line!.length).toBeLessThan(1024);
    const parsed = parseAuditLine(line!);
    expect(parsed.kind).toBe("decision");
    const record = (parsed as { record: AuditDecision }).record;
    expect(record).toMatchObject({ op: "values", allowed: false, names: [NAMES[0]], omitted: 3899 });
    expect(namesCell(record)).toBe(`${NAMES[0]},… (+3899)`);
  });

  it("keeps every name of an allowed release", async () => {
    const { audit, lines } = context("allowed");
    await audit.record({ ...stranger, op: "values", names: ["A", "B"], given: ["A", "B"], allowed: true, reason: "r" });
    expect(JSON.parse(lines()[0]!)).toMatchObject({ names: ["A", "B"], given: ["A", "B"] });
    expect((JSON.parse(lines()[0]!) as { omitted?: unknown }).omitted).toBeUndefined();
  });
});

describe("the audit budget of a uid", () => {
  it("lets a uid write its budget, then makes it wait until the minute gives it room again", () => {
    let t = 0;
    const budget = new AuditBudget(6000, () => t);
    expect(budget.wait(1)).toBe(0);
    expect(budget.charge(1, 5000)).toBe(false);
    expect(budget.wait(1)).toBe(0);
    expect(budget.charge(1, 1500)).toBe(true); // over now: 500 bytes in debt
    const wait = budget.wait(1);
    expect(wait).toBeGreaterThan(5000); // 501 bytes at 100 bytes a second
    expect(wait).toBeLessThanOrEqual(5010);
    expect(budget.wait(2)).toBe(0); // another uid is not affected
    t += wait;
    expect(budget.wait(1)).toBe(0);
  });

  it("is charged by every line the log writes for that uid, and says so once in an event", async () => {
    const file = path.join(tmp.dir, "budget.log");
    const audit = new AuditLog(file, { bytesPerUidPerMinute: 2000 });
    for (let i = 0; i < 20; i++)
      await audit.record({ ...stranger, op: "get", names: ["K"], given: [], allowed: false, reason: "no rule" });
    expect(audit.budget!.wait(stranger.uid)).toBeGreaterThan(0);
    expect(audit.budget!.wait(0)).toBe(0);
    const events = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.includes('"event":"audit-budget"'));
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!)).toMatchObject({ uid: stranger.uid, bytesPerMinute: 2000, answer: "busy" });
  });
});

describe("a change's audit lines", () => {
  it("writes the intent (flushed) before the store changes, then the outcome", async () => {
    const { ctx, lines, events } = context("intent");
    await handle({ v: 1, op: "add", name: "K", value: "v1" }, root, ctx);
    expect(events).toEqual(["update (log has 1 lines)"]);
    const [intent, outcome] = lines().map((l) => JSON.parse(l) as AuditDecision);
    expect(intent).toMatchObject({ op: "add", names: ["K"], allowed: true, intent: true });
    expect(intent!.reason).toMatch(/^adding: /);
    expect(outcome).toMatchObject({
      op: "add",
      names: ["K"],
      allowed: true,
      reason: expect.stringMatching(/^added: /),
    });
    expect(outcome!.intent).toBeUndefined();
    expect(decisionLine(intent!)).toMatch(/ {2}intent +add +K {2}/);
  });

  it("records a change that failed after its intent as a refusal with the error's code", async () => {
    const { ctx, lines } = context("intent-fails");
    await handle({ v: 1, op: "add", name: "K", value: "v1" }, root, ctx);
    await expect(handle({ v: 1, op: "add", name: "K", value: "v2" }, root, ctx)).rejects.toMatchObject({ exitCode: 1 });
    const last = lines()
      .slice(-2)
      .map((l) => JSON.parse(l) as AuditDecision);
    expect(last[0]).toMatchObject({ intent: true, reason: expect.stringMatching(/^adding: /) });
    expect(last[1]).toMatchObject({ allowed: false, names: ["K"] });
  });

  it("does not make a change whose intent line cannot be written (exit 1, the store untouched)", async () => {
    const { ctx, events, doc } = context("no-room", { failIntent: true });
    const err = await handle({ v: 1, op: "add", name: "K", value: "v1", replace: true }, root, ctx).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FailureError);
    expect((err as FailureError).message).toContain("cannot write the audit log");
    expect(events).toEqual([]);
    expect(doc().secrets.K).toBeUndefined();
  });
});
