// The agent's current policy: loaded at start, reloaded when the file changes.
// Rules: a policy that fails to load at start stops the agent; one that fails on reload makes the agent refuse
// every request but root's until it is fixed (fail closed, never a partial or stale policy).

import { SecretfileError, AccessError } from "../errors.js";
import { loadPolicyFile, policyFileStamp } from "../policy/load.js";
import type { Policy } from "../policy/parse.js";
import { perTurn } from "./per-turn.js";

/** The outcome of looking at the policy file now. */
export type PolicyNow = { ok: true; policy: Policy } | { ok: false; error: SecretfileError };

/** A policy file watched by its stamp (inode, size, times), looked at once per event-loop turn that has requests. */
export class PolicyState {
  readonly file: string;
  private stamp: string;
  private now: PolicyNow;
  private readonly onReload: (now: PolicyNow) => void;

  private constructor(file: string, stamp: string, policy: Policy, onReload: (now: PolicyNow) => void) {
    this.file = file;
    this.stamp = stamp;
    this.now = { ok: true, policy };
    this.onReload = onReload;
  }

  /** Loads `file`; throws its AccessError (4) or PolicySyntaxError (1) so the agent refuses to start. */
  static async load(file: string, onReload: (now: PolicyNow) => void = () => undefined): Promise<PolicyState> {
    const stamp = await policyFileStamp(file);
    return new PolicyState(file, stamp, await loadPolicyFile(file), onReload);
  }

  /** Returns the policy in force, reloading it first if the file changed (looked at once per event-loop turn). */
  readonly current = perTurn(() => this.refresh());

  private async refresh(): Promise<PolicyNow> {
    let stamp: string;
    try {
      stamp = await policyFileStamp(this.file);
    } catch (err) {
      stamp = `error:${String(err)}`;
    }
    if (stamp === this.stamp) return this.now;
    this.stamp = stamp;
    try {
      this.now = { ok: true, policy: await loadPolicyFile(this.file) };
    } catch (err) {
      const error = err instanceof SecretfileError ? err : new AccessError(`cannot load the policy ${this.file}`, { cause: err });
      this.now = { ok: false, error };
    }
    this.onReload(this.now);
    return this.now;
  }
}
