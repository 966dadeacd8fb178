// How much the agent keeps of pending changes: a count and bytes on disk per requester uid and in all
// (SECRETFILE_AGENT_LIMITS), so that no writer can fill the agent's disk or memory with changes held for approval.
// Rules: checked before a change is kept, against what is kept (expired changes swept first); a refusal says which
// limit and what to do; the first refusal of a requester past its limits (or of anyone, once the whole is full) is
// audited, the next ones are not until a change of that requester (or any change) is gone: a flood costs no log.

import { FailureError } from "../errors.js";
import { DEFAULT_LIMITS, LIMITS_VARIABLE, type Limits } from "./limits.js";
import type { Kept } from "./pending-files.js";

/** The limits of pending changes. */
export type PendingLimits = Pick<
  Limits,
  "maxPending" | "maxPendingPerUid" | "maxPendingBytes" | "maxPendingBytesPerUid"
>;

/** A change refused for the limits of pending changes (exit 1); approvals.ts audits it, at most once a spell. */
export class PendingLimitError extends FailureError {}

/** A refusal, and whether its audit line is still to be written. */
export interface OverLimit {
  error: PendingLimitError;
  audit: boolean;
}

/** Past this many quiet keys the set starts again: it stays small however many uids try. */
const MAX_QUIET = 10_000;

/** The limits of pending changes, and whose refusals are audited already. */
export class PendingQuota {
  private readonly limits: PendingLimits;
  private readonly quiet = new Set<number | "all">();

  constructor(limits: Partial<PendingLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /**
   * Returns why a change by `uid` (named `who`) taking `bytes` may not be kept beside `kept`, or undefined when it may.
   * `what` names the change in the message (`add MERAKI_API_KEY`).
   */
  check(kept: Iterable<Kept>, uid: number, who: string, bytes: number, what: string): OverLimit | undefined {
    let count = 0;
    let total = 0;
    let mine = 0;
    let mineBytes = 0;
    for (const k of kept) {
      count++;
      total += k.sealedBytes + k.metaBytes;
      if (k.change.requester.uid === uid) {
        mine++;
        mineBytes += k.sealedBytes + k.metaBytes;
      }
    }
    const l = this.limits;
    const withdraw =
      "withdraw one of yours (`secretfile reject ID`), or wait until they are approved, rejected or expire";
    const raise = (key: string) => `root may raise ${key} in ${LIMITS_VARIABLE} (docs/protocol.md)`;
    if (mine + 1 > l.maxPendingPerUid)
      return this.over(uid, `${who} has ${mine} pending changes, the most one requester may have`, what, [
        `\`secretfile pending\` lists them; ${withdraw}`,
        raise("pendingPerUid"),
      ]);
    if (mineBytes + bytes > l.maxPendingBytesPerUid)
      return this.over(
        uid,
        `${who}'s pending changes would take ${mineBytes + bytes} bytes, more than the ${l.maxPendingBytesPerUid} one requester may have`,
        what,
        [`\`secretfile pending\` lists them; ${withdraw}; a smaller import fits sooner`, raise("pendingBytesPerUid")],
      );
    if (count + 1 > l.maxPending)
      return this.over("all", `the agent keeps ${count} pending changes, the most it keeps`, what, [
        "approvers can approve or reject them (`secretfile pending`)",
        raise("pending"),
      ]);
    if (total + bytes > l.maxPendingBytes)
      return this.over(
        "all",
        `pending changes would take ${total + bytes} bytes, more than the ${l.maxPendingBytes} the agent keeps`,
        what,
        ["approvers can approve or reject them (`secretfile pending`)", raise("pendingBytes")],
      );
    return undefined;
  }

  /** Notes that a change of `uid` is gone: the next refusal of that requester, or of anyone, is audited again. */
  freed(uid: number): void {
    this.quiet.delete(uid);
    this.quiet.delete("all");
  }

  private over(key: number | "all", why: string, what: string, hints: string[]): OverLimit {
    const audit = !this.quiet.has(key);
    if (audit) {
      if (this.quiet.size >= MAX_QUIET) this.quiet.clear();
      this.quiet.add(key);
    }
    return {
      error: new PendingLimitError(`the change was not kept for approval: ${what}: ${why}`, { hint: hints.join("; ") }),
      audit,
    };
  }
}
