// Approval rules at work in the agent: a change to a name an `approve` rule gives is held (not applied), listed,
// approved, rejected, expired, and applied with the usual locked write once enough people agreed.
// Rules: every step is audited before it takes effect (an applied change's line before the write), never a value nor
// the fingerprint key; the requester never approves its own change and a uid counts once; one queue serializes every
// step, so concurrent approvals each count once; a change applies only to the secrets as they were when it was asked
// for (else it is void); the requester and earlier approvers count as the user database and the policy say they are
// now, not as when they asked (a requester who may no longer write the names voids it); root counts as one person of
// any rule, and only root's `--force` skips the count (a bypass); what is kept is bounded (pending-limits.ts), and a
// value is read from disk only to apply its change.

import { randomBytes } from "node:crypto";
import { AccessError, NotFoundError, PendingError } from "../errors.js";
import { approvalRulesFor, countsFor, decide, grantsAny, type Caller } from "../policy/evaluate.js";
import type { Policy } from "../policy/parse.js";
import type { ApproveResult } from "../protocol/pending.js";
import type { Answer, Request } from "../protocol/wire.js";
import { rollbackSecret } from "../store/operations.js";
import type { Store } from "../store/store.js";
import { lookupUser } from "../system/users.js";
import type { AuditLog } from "./audit.js";
import { recordOf, type IdentifiedCaller } from "./caller.js";
import type { AgentContext } from "./handle.js";
import {
  applyChange,
  changedSince,
  describeChange,
  fingerprint,
  namesOf,
  personText,
  serializeChange,
  stampOf,
  type ChangeRequest,
  type PendingChange,
} from "./pending-change.js";
import { PendingFiles, type Kept, type PendingStore } from "./pending-files.js";
import { PendingQuota, type OverLimit, type PendingLimits } from "./pending-limits.js";
import { currentPeople, infoOf, mayApprove, needsOf, needsText, person } from "./pending-people.js";

/** How an Approvals works: its clock, how it asks who a uid is now, and the limits of what it keeps. */
export interface ApprovalsOptions {
  /** The clock, in ms since the epoch (default Date.now). */
  now?: () => number;
  /** Who `uid` is now (default: the user database); `gid` is added to the groups of a uid with no passwd entry. */
  resolve?: (uid: number, gid: number | undefined) => Caller;
  /** The limits of pending changes (default: DEFAULT_LIMITS'). */
  limits?: Partial<PendingLimits>;
}

/** The agent's pending changes: kept in `files`, their metadata cached once loaded, every step taken one at a time. */
export class Approvals {
  readonly files: PendingStore;
  /** The clock, in ms since the epoch (injectable for tests). */
  readonly now: () => number;
  /** Who a uid is now (ApprovalsOptions.resolve): asked again at every step for the people a change keeps. */
  readonly resolve: (uid: number, gid: number | undefined) => Caller;
  /** The limits of pending changes, and whose refusals are audited already. */
  readonly quota: PendingQuota;
  private queue: Promise<unknown> = Promise.resolve();
  private cache: Map<string, Kept> | undefined;

  constructor(files: PendingStore, opts: ApprovalsOptions = {}) {
    this.files = files;
    this.now = opts.now ?? Date.now;
    this.resolve = opts.resolve ?? lookupUser;
    this.quota = new PendingQuota(opts.limits);
  }

  /** Runs `step` after every step asked before it has ended; resolves or rejects as it does. */
  serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Returns the changes kept, by id, loading their metadata the first time (no value is read); a sealed file of no
   * change, removed by the load, is an event of `audit`. Throws what PendingStore.load throws.
   */
  async changes(audit: AuditLog): Promise<Map<string, Kept>> {
    if (this.cache === undefined) {
      const loaded = await this.files.load();
      for (const file of loaded.dropped)
        audit.event("pending-dropped", { file, reason: "a sealed change without its metadata file; not applied" });
      this.cache = new Map(loaded.kept.map((k) => [k.change.id, k]));
    }
    return this.cache;
  }

  /** Forgets `change`: from memory first, then its files; its requester's next refusal is audited again. */
  async forget(change: PendingChange): Promise<void> {
    this.quota.freed(change.requester.uid);
    this.cache?.delete(change.id);
    await this.files.remove(change.id);
  }
}

const defaults = new WeakMap<Store, Approvals>();

/** Returns the context's approvals, or the default: files in `pending/` of the store's folder. */
export function approvalsOf(ctx: AgentContext): Approvals {
  if (ctx.approvals !== undefined) return ctx.approvals;
  let made = defaults.get(ctx.store);
  if (made === undefined) defaults.set(ctx.store, (made = new Approvals(new PendingFiles(ctx.store))));
  return made;
}

/** A change as handle.ts asks it: rollback's version may be left to the agent. */
export type AskedChange =
  Exclude<ChangeRequest, { op: "rollback" }> | { op: "rollback"; name: string; to: number | undefined };

/**
 * The hook of every change (add, rm, rollback, import), called once it is authorized and checked: returns when no
 * approval rule gives its names (the caller then applies it), else keeps it as a pending change, audits that, and
 * throws PendingError (exit 7) naming its id, fingerprint and who may approve it. Throws what the change itself would
 * (ExistsError, NotFoundError, …) and PendingLimitError (1) past the limits of pending changes, before anything is kept.
 */
export async function holdIfRuled(
  ctx: AgentContext,
  policy: Policy,
  caller: IdentifiedCaller,
  asked: AskedChange,
  reason: string,
): Promise<void> {
  const names = namesOf(asked as ChangeRequest);
  const rules = approvalRulesFor(policy, names);
  if (rules.length === 0) return;
  const approvals = approvalsOf(ctx);
  const file = ctx.store.paths.store;
  await approvals.serial(async () => {
    const changes = await sweep(ctx, approvals);
    const short = `${asked.op} ${namesText(names)}`;
    const fits = (bytes: number) =>
      refuseOver(
        ctx,
        caller,
        asked.op,
        names,
        approvals.quota.check(changes.values(), caller.uid, personText(caller), bytes, short),
      );
    await fits(0); // the count first: a requester at its limit costs no decryption, no copy and no sealing
    const doc = await ctx.read();
    const request: ChangeRequest =
      asked.op === "rollback" && asked.to === undefined
        ? { ...asked, to: rollbackSecret(structuredClone(doc), asked.name, undefined, file).restored }
        : (asked as ChangeRequest);
    const after = applyChange(structuredClone(doc), request, file);
    const id = randomBytes(6).toString("hex");
    const now = approvals.now();
    const change: PendingChange = {
      id,
      op: request.op,
      change: describeChange(request),
      names,
      requester: { ...person(caller, now), pid: caller.pid, program: caller.program },
      expires: new Date(now + Math.min(...rules.map((r) => r.expiresMs))).toISOString(),
      base: Object.fromEntries(names.map((n) => [n, stampOf(doc, n)])),
      approvals: [],
      fingerprint: fingerprint(approvals.files.key(), id, after),
    };
    const sealed = await approvals.files.seal(id, request, doc);
    await fits(sealed.length + serializeChange(change).length);
    const needs = needsOf(rules, [change.requester]);
    const what = `${change.change} ${names.join(" ")}`;
    await record(
      ctx,
      caller,
      asked.op,
      names,
      false,
      `held for approval as change ${id} (fingerprint ${change.fingerprint}, needs ${needsText(needs)}, expires ${change.expires}): ${reason}`,
    );
    const metaBytes = await approvals.files.create(change, sealed);
    changes.set(id, { change, sealedBytes: sealed.length, metaBytes });
    throw new PendingError(
      `the change was not applied: ${what} waits for approval as change ${id}, fingerprint ${change.fingerprint}`,
      {
        hint: `it needs ${needsText(needs)} (\`secretfile approve ${id}\`) before ${change.expires}; they see it in \`secretfile pending\`: compare the fingerprint with theirs`,
      },
    );
  });
}

/** Answers `pending`, `approve` and `reject`; throws AccessError (4, audited here), NotFoundError (3), … */
export async function answerApprovals(
  req: Extract<Request, { op: "pending" | "approve" | "reject" }>,
  caller: IdentifiedCaller,
  ctx: AgentContext,
  policy: Policy,
): Promise<Answer> {
  const approvals = approvalsOf(ctx);
  const refuse = async (names: string[], why: string, message: string, hint: string) => {
    await record(ctx, caller, req.op, names, false, why);
    return new AccessError(message, { hint });
  };
  // Refused before any change is looked up: a caller with no part in approvals learns nothing, not even the ids.
  const approver = caller.uid === 0 || (policy.approvals ?? []).some((r) => countsFor(r, caller));
  if (!approver && (req.op === "approve" || !grantsAny(policy, caller, "write"))) {
    throw await refuse(
      [],
      `no approve rule names uid ${caller.uid}`,
      `${personText(caller)} may not ${req.op === "pending" ? "see pending changes" : `${req.op} changes`}`,
      `an admin can name it in an approve rule of ${policy.file}`,
    );
  }
  if (req.op === "approve" && req.force === true && caller.uid !== 0) {
    throw await refuse(
      [],
      "only root may apply a pending change with --force",
      `${personText(caller)} may not apply a change without its approvals`,
      "only root may: `sudo secretfile approve ID --force` (audited as a bypass)",
    );
  }
  return approvals.serial(async () => {
    const changes = await sweep(ctx, approvals);
    const now = currentPeople(approvals.resolve, caller);
    if (req.op === "pending") {
      const shown = [...changes.values()]
        .map((k) => k.change)
        .filter((c) => caller.uid === 0 || c.requester.uid === caller.uid || mayApprove(policy, c, caller));
      await record(
        ctx,
        caller,
        "pending",
        shown.flatMap((c) => c.names),
        true,
        `${shown.length} pending change${shown.length === 1 ? "" : "s"} listed`,
      );
      return {
        ok: true,
        op: "pending",
        changes: shown
          .sort((a, b) => (a.requester.time < b.requester.time ? -1 : 1))
          .map((c) => infoOf(policy, c, now)),
      };
    }
    const kept = changes.get(req.id);
    if (kept === undefined) {
      throw new NotFoundError(`no pending change ${req.id}`, {
        hint: "`secretfile pending` lists them; one applied, rejected or expired is gone (the audit log says which)",
      });
    }
    const change = kept.change;
    const names = change.names;
    const what = `change ${change.id} (${change.change} ${names.join(" ")}, requested by ${personText(change.requester)})`;
    if (req.op === "reject") {
      if (caller.uid !== 0 && change.requester.uid !== caller.uid && !mayApprove(policy, change, caller)) {
        throw await refuse(
          names,
          `not an approver of change ${change.id}`,
          `${personText(caller)} may not reject change ${change.id}`,
          `only its requester, the people its approve rule names, and root may`,
        );
      }
      await record(ctx, caller, "reject", names, true, `rejected ${what}; not applied`);
      await approvals.forget(change);
      return { ok: true, op: "reject", id: change.id };
    }
    const force = req.force === true;
    if (change.requester.uid === caller.uid && !force) {
      throw await refuse(
        names,
        `the requester may not approve change ${change.id}`,
        `${personText(caller)} may not approve its own change ${change.id}`,
        caller.uid === 0
          ? "root may apply it at once with `--force` (audited as a bypass)"
          : "another person its approve rule names must",
      );
    }
    if (!force && !mayApprove(policy, change, caller)) {
      throw await refuse(
        names,
        `not an approver of change ${change.id}`,
        `${personText(caller)} may not approve change ${change.id}`,
        `its approve rule in ${policy.file} names who may`,
      );
    }
    const next = structuredClone(change);
    const counted = !next.approvals.some((a) => a.uid === caller.uid) && next.requester.uid !== caller.uid;
    if (counted) next.approvals.push(person(caller, approvals.now()));
    // The requester as it is now: one who lost `write` of a name (or whose uid is now another user's) voids the change.
    const requester = now(change.requester);
    const lost = requester === undefined ? names : names.filter((n) => !decide(policy, requester, "write", n).allowed);
    if (lost.length > 0) {
      const who = personText(change.requester);
      return {
        ok: true,
        op: "approve",
        ...(await voidChange(
          ctx,
          approvals,
          caller,
          change,
          what,
          counted,
          requester === undefined
            ? `uid ${change.requester.uid} is no longer ${who}`
            : `the requester ${who} may no longer write ${lost.join(", ")}`,
        )),
      };
    }
    const needs = needsOf(approvalRulesFor(policy, names), [requester!, ...next.approvals.map(now)]);
    if (needs.length > 0 && !force) {
      if (!counted) {
        await record(
          ctx,
          caller,
          "approve",
          names,
          true,
          `approval of ${what} by ${personText(caller)} already counted; still needs ${needsText(needs)}`,
        );
        return { ok: true, op: "approve", id: change.id, state: "pending", counted, needs };
      }
      await record(ctx, caller, "approve", names, true, `approved ${what}; still needs ${needsText(needs)}`);
      const metaBytes = await approvals.files.update(next);
      changes.set(next.id, { ...kept, change: next, metaBytes });
      return { ok: true, op: "approve", id: change.id, state: "pending", counted, needs };
    }
    return {
      ok: true,
      op: "approve",
      ...(await apply(ctx, approvals, caller, next, what, force && needs.length > 0, counted)),
    };
  });
}

/** Applies a change whose rules are met (or that root forces): void when a secret changed since, else audited, then written. */
async function apply(
  ctx: AgentContext,
  approvals: Approvals,
  caller: IdentifiedCaller,
  change: PendingChange,
  what: string,
  bypass: boolean,
  counted: boolean,
): Promise<ApproveResult> {
  const names = change.names;
  const file = ctx.store.paths.store;
  const voided = (reason: string) => voidChange(ctx, approvals, caller, change, what, counted, reason);
  const changed = changedSince(await ctx.read(), change);
  if (changed.length > 0) return voided(`${changed.join(", ")} changed since the request`);
  const request = await approvals.files.request(change); // the values, read from disk only now
  const agreed = change.approvals.map(personText).join(", ") || "nobody else";
  await record(
    ctx,
    caller,
    "approve",
    names,
    true,
    bypass
      ? `BYPASS: root applied ${what} without the approvals its rules ask for (approved by ${agreed}; fingerprint ${change.fingerprint})`
      : `applied ${what}, approved by ${agreed} (fingerprint ${change.fingerprint})`,
    true,
  );
  class Changed extends Error {}
  try {
    await ctx.update((doc) => {
      if (changedSince(doc, change).length > 0) throw new Changed();
      applyChange(doc, request, file);
    });
  } catch (err) {
    if (err instanceof Changed) return voided(`${names.join(", ")} changed while it was being applied`);
    throw err;
  }
  // Gone from memory first, so it can never apply twice; a file left behind is void at the next load (its stamps differ).
  await approvals.forget(change).catch(() => undefined);
  return { id: change.id, state: "applied", counted, needs: [], ...(bypass ? { bypass } : {}) };
}

/** Forgets a change that can never apply, audited with `reason`; returns the answer that says so. */
async function voidChange(
  ctx: AgentContext,
  approvals: Approvals,
  caller: IdentifiedCaller,
  change: PendingChange,
  what: string,
  counted: boolean,
  reason: string,
): Promise<ApproveResult> {
  await record(ctx, caller, "approve", change.names, false, `voided ${what}: ${reason}; nothing applied`);
  await approvals.forget(change);
  return { id: change.id, state: "voided", counted, needs: [], reason };
}

/** Forgets every change whose time is up (audited as expired, by the agent); returns the changes still kept. */
async function sweep(ctx: AgentContext, approvals: Approvals): Promise<Map<string, Kept>> {
  const changes = await approvals.changes(ctx.audit);
  const now = approvals.now();
  for (const { change } of [...changes.values()]) {
    if (Date.parse(change.expires) > now) continue;
    await ctx.audit.record({
      op: "expire",
      uid: process.getuid?.() ?? -1,
      user: undefined,
      pid: process.pid,
      program: undefined,
      cmdline: undefined,
      names: change.names,
      given: [],
      allowed: false,
      reason: `expired: change ${change.id} (${change.change} ${change.names.join(" ")}, requested by ${personText(change.requester)}) had ${change.approvals.length} approval${change.approvals.length === 1 ? "" : "s"} by ${change.expires}; not applied`,
    });
    await approvals.forget(change);
  }
  return changes;
}

/** Throws `over`'s error, audited first when it is the first of its spell (pending-limits.ts); nothing when undefined. */
async function refuseOver(
  ctx: AgentContext,
  caller: IdentifiedCaller,
  op: string,
  names: string[],
  over: OverLimit | undefined,
): Promise<void> {
  if (over === undefined) return;
  if (over.audit) {
    await record(
      ctx,
      caller,
      op,
      names,
      false,
      `refused: ${over.error.message}; its next refusals for this limit are not audited until one of its pending changes is gone`,
    );
  }
  throw over.error;
}

/** Returns a list of names short enough for a message: the first three and how many more. */
function namesText(names: string[]): string {
  return names.length <= 3 ? names.join(" ") : `${names.slice(0, 3).join(" ")} and ${names.length - 3} more`;
}

/** Audits one step; `beforeChange`: the line of a change about to be made, flushed to disk first (handle.ts's rule). */
function record(
  ctx: AgentContext,
  caller: IdentifiedCaller,
  op: string,
  names: string[],
  allowed: boolean,
  reason: string,
  beforeChange = false,
): Promise<string> {
  const line = recordOf(caller, { op, names, given: [], allowed, reason });
  return beforeChange ? ctx.audit.commit(line) : ctx.audit.record(line);
}
