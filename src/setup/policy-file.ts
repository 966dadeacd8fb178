// The policy file setup writes: root:root 0644, every rule commented out, so the agent denies all but root.
// Rules: an existing policy is never replaced; it is loaded as the agent would, so setup fails on one the agent refuses.

import { loadPolicyFile } from "../policy/load.js";
import { unknownSubjects } from "../policy/subjects.js";
import type { ActionLog } from "./actions.js";
import { createOwnedFile, lstatOrNull } from "./files.js";

/** Returns the text of a new policy file at `file`: comments and examples only (deny by default). */
export function policyTemplate(file: string): string {
  return `# ${file}: who may read and write which secrets; read by the secretfile agent.
# Deny by default: with no rule below, only root may read or write (root may always; it is audited).
# One rule a line, '#' starts a comment. The agent reloads this file when it changes, and refuses it
# unless it is owned by root and writable by root only. Check a change with:
#   secretfile policy check ${file}
#
# verb   who                 secret names (globs allowed: * and ?)
#   read   lets get, exec and ls see those names (a glob lets a job ask for a name by
#          name; a plain \`secretfile exec\` gets only the names a rule writes out)
#   write  lets add, rm and add --replace change them, without reading them
#   who is user:NAME, group:NAME (primary or supplementary), uid:N or gid:N; or, for read only,
#   unit:NAME (a systemd unit, globs allowed, given the secret through LoadCredential=)
#
# Examples (remove the leading '#' to use one):
# read     user:netops         MERAKI_API_KEY WEBEX_*
# read     group:monitoring    GRAFANA_TOKEN
# read     uid:1005            *
# write    group:secops        *
`;
}

/**
 * Loads an existing policy `file` as the agent would, before setup changes anything; does nothing when there is none.
 * Throws the loader's AccessError (4) or PolicySyntaxError (1).
 */
export async function checkExistingPolicy(file: string): Promise<void> {
  if ((await lstatOrNull(file)) !== null) await loadPolicyFile(file);
}

/**
 * Creates the policy `file` (root:root 0644) from the template when it does not exist, else checks it
 * as the agent would. Records "created" or "kept" in `log`. Throws the loader's AccessError (4) or
 * PolicySyntaxError (1) for an existing policy the agent would refuse.
 */
export async function ensurePolicy(file: string, log: ActionLog): Promise<void> {
  if ((await lstatOrNull(file)) === null) {
    await createOwnedFile(file, policyTemplate(file), { uid: 0, gid: 0, mode: 0o644, owner: "root:root" }, "policy");
    log.add(
      "created",
      `the policy ${file} (root:root 0644, no rules: only root may read or write; edit it to grant access)`,
    );
    return;
  }
  const policy = await loadPolicyFile(file);
  const n = policy.rules.length;
  log.add("kept", `the policy ${file} (${n} rule${n === 1 ? "" : "s"})`);
  for (const w of unknownSubjects(policy)) log.add("warning", `${file}:${w.line}: ${w.message}`);
}
