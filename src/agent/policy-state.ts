// The agent's current policy: loaded at start, reloaded when the file changes or on request (SIGHUP).
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
  private readonly onReload: (now: PolicyNow, asked: boolean) => void;

  private constructor(file: string, stamp: string, policy: Policy, onReload: (now: PolicyNow, asked: boolean) => void) {
    this.file = file;
    this.stamp = stamp;
    this.now = { ok: true, policy };
    this.onReload = onReload;
  }

  /**
   * Loads `file`; throws its AccessError (4) or PolicySyntaxError (1) so the agent refuses to start. `onReload` hears of
   * every reload after that (`asked`: by reload(), not by a change of the file).
   */
  static async load(
    file: string,
    onReload: (now: PolicyNow, asked: boolean) => void = () => undefined,
  ): Promise<PolicyState> {
    const stamp = await policyFileStamp(file);
    return new PolicyState(file, stamp, await loadPolicyFile(file), onReload);
  }

  /** Returns the policy in force, reloading it first if the file changed (looked at once per event-loop turn). */
  readonly current = perTurn(() => this.refresh());

  /**
   * Loads the file again now, changed or not (SIGHUP), and resolves with the outcome: an invalid policy is in force as
   * one with no rules (every request but root's refused), as when the file changes. Never rejects.
   */
  async reload(): Promise<PolicyNow> {
    this.current.forget();
    const now = await this.refresh(true);
    this.current.forget();
    return now;
  }

  private async refresh(asked = false): Promise<PolicyNow> {
    let stamp: string;
    try {
      stamp = await policyFileStamp(this.file);
    } catch (err) {
      stamp = `error:${String(err)}`;
    }
    if (stamp === this.stamp && !asked) return this.now;
    this.stamp = stamp;
    try {
      this.now = { ok: true, policy: await loadPolicyFile(this.file) };
    } catch (err) {
      const error =
        err instanceof SecretfileError ? err : new AccessError(`cannot load the policy ${this.file}`, { cause: err });
      this.now = { ok: false, error };
    }
    this.onReload(this.now, asked);
    return this.now;
  }
}
