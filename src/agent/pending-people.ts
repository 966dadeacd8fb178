// Who counts for a pending change: its requester and approvers as the user database says they are now, what its
// approve rules still need of them, and the change as `pending` shows it.
// Rules: a person is looked up again at every step (once per uid a step), never trusted as kept: a uid that now has
// another user name is not the same person and counts for no one; the caller is who the kernel says it is; no value.

import { approvalRulesFor, approvalsMissing, countsFor, type Caller } from "../policy/evaluate.js";
import { formatSubject, type ApprovalRule, type Policy } from "../policy/parse.js";
import type { NeedInfo, PendingInfo } from "../protocol/pending.js";
import type { IdentifiedCaller } from "./caller.js";
import { personInfo, type PendingChange, type Person } from "./pending-change.js";

/**
 * Returns who a kept person is now, the user database asked once per uid for this step (the caller is who the kernel
 * says it is): undefined for a uid that now has another user name, or none where it had one.
 */
export function currentPeople(
  resolve: (uid: number, gid: number | undefined) => Caller,
  caller: IdentifiedCaller,
): (p: Caller) => Caller | undefined {
  const seen = new Map<number, Caller>([[caller.uid, caller]]);
  return (p) => {
    let now = seen.get(p.uid);
    if (now === undefined) {
      now = resolve(p.uid, p.user === undefined ? p.gid : undefined);
      seen.set(p.uid, now);
    }
    return now.user === p.user ? now : undefined;
  };
}

/** Returns true when `caller` may approve or reject `change`: root, or a person one of its rules names. */
export function mayApprove(policy: Policy, change: PendingChange, caller: IdentifiedCaller): boolean {
  return caller.uid === 0 || approvalRulesFor(policy, change.names).some((r) => countsFor(r, caller));
}

/** Returns what each rule still needs, given the people who agreed (the requester first; undefined: counts for none). */
export function needsOf(rules: ApprovalRule[], people: (Caller | undefined)[]): NeedInfo[] {
  return approvalsMissing(
    rules,
    people.filter((p) => p !== undefined),
  ).map(({ rule, missing }) => ({
    line: rule.line,
    count: rule.count,
    who: rule.who.map(formatSubject),
    missing,
  }));
}

/** Returns what `needs` asks for, as a message says it: `1 more of group:secops`. */
export function needsText(needs: NeedInfo[]): string {
  return needs.length === 0
    ? "no more approvals"
    : needs.map((n) => `${n.missing} more of ${n.who.join(" ")}`).join(" and ");
}

/** Returns a change as `pending` shows it, its needs counted with the people as they are `now`. */
export function infoOf(policy: Policy, c: PendingChange, now: (p: Caller) => Caller | undefined): PendingInfo {
  return {
    id: c.id,
    change: c.change,
    op: c.op,
    names: c.names,
    requester: personInfo(c.requester),
    requested: c.requester.time,
    expires: c.expires,
    fingerprint: c.fingerprint,
    approvals: c.approvals.map((a) => ({ ...personInfo(a), time: a.time })),
    needs: needsOf(approvalRulesFor(policy, c.names), [now(c.requester), ...c.approvals.map(now)]),
  };
}

/** Returns `caller` as a change keeps a person, at `now` (ms since the epoch). */
export function person(caller: IdentifiedCaller, now: number): Person {
  return {
    uid: caller.uid,
    gid: caller.gid,
    user: caller.user,
    groups: caller.groups,
    time: new Date(now).toISOString(),
  };
}
