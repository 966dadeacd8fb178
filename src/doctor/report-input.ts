// Gathering what `secretfile report` and doctor judge: the secrets' metadata from the store in use, and in system mode
// the policy's expected readers and the audit log's reads.
// Rules: the agent is asked only `list`; the audit log is read without following a symlink; names only, never a value.

import { scanReads } from "../audit/reads.js";
import { openBackend, type Where } from "../client/backend.js";
import { loadPolicyFile } from "../policy/load.js";
import type { ReportInput } from "./report.js";

/** The report's thresholds, as times. */
export interface ReportWindow {
  now: Date;
  /** Secrets expiring before this time are listed. */
  expiringBefore: Date;
  /** Secrets read last (or never, and added) before this time are listed (system mode). */
  unreadSince: Date;
  /** Refused reads since this time are listed (system mode). */
  refusedSince: Date;
}

/**
 * Returns the report's input for `where`; in agent mode the policy and audit log are read too. Throws the backend's
 * errors (6 agent unreachable, 4 refused), the policy's and the audit log's (4 no permission: run it as root).
 */
export async function gatherReport(
  where: Where,
  files: { policy: string; audit: string },
  window: ReportWindow,
): Promise<ReportInput> {
  const secrets = await (await openBackend(where)).list();
  const input: ReportInput = { secrets, now: window.now, expiringBefore: window.expiringBefore };
  if (where.mode === "personal") return input;
  const policy = await loadPolicyFile(files.policy);
  return {
    ...input,
    reads: await scanReads(files.audit, window.refusedSince),
    unreadSince: window.unreadSince,
    refusedSince: window.refusedSince,
    expects: policy.expects,
  };
}
