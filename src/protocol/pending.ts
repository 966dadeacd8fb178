// What the agent tells of a pending change (one waiting for approval, docs/approvals.md), on the wire.
// Rules: never a value; the fingerprint is keyed by the agent (it cannot be used to guess a value); ids are checked.

/** The operations a pending change can hold. */
export type ChangeOp = "add" | "rm" | "rollback" | "import";

/** One person of a pending change: the requester or an approver. */
export interface PersonInfo {
  uid: number;
  /** Absent when the uid has no user name. */
  user?: string;
}

/** What still has to happen for one approval rule: `missing` more of `who` (the policy's spelling). */
export interface NeedInfo {
  /** The rule's line in the policy. */
  line: number;
  count: number;
  who: string[];
  missing: number;
}

/** A pending change as `secretfile pending` shows it. */
export interface PendingInfo {
  id: string;
  /** `add`, `add --replace`, `rm`, `rollback --to N` or `import` (with `--replace`). */
  change: string;
  op: ChangeOp;
  names: string[];
  requester: PersonInfo;
  /** ISO 8601, UTC. */
  requested: string;
  expires: string;
  /** A keyed fingerprint of the new value(s), e.g. `1a2b-3c4d-5e6f-7a8b`, to compare with the requester out of band. */
  fingerprint: string;
  approvals: (PersonInfo & { time: string })[];
  /** Empty when every rule is met (the change applies with the next approval). */
  needs: NeedInfo[];
}

/** The outcome of an approval: still waiting, applied now, or void (the secret changed since the request). */
export interface ApproveResult {
  id: string;
  state: "pending" | "applied" | "voided";
  /** False when this uid had approved already (it counts once). */
  counted: boolean;
  needs: NeedInfo[];
  /** Why a change is void, e.g. "MERAKI_API_KEY changed since the request". */
  reason?: string;
  /** True when root applied it without the approvals its rules ask for (`approve --force`). */
  bypass?: boolean;
}

/** The form of a pending change's id: 12 lowercase hex digits. */
export const PENDING_ID = /^[0-9a-f]{12}$/;

/** Returns true when `id` has the form of a pending change's id. */
export function isPendingId(id: unknown): id is string {
  return typeof id === "string" && PENDING_ID.test(id);
}
