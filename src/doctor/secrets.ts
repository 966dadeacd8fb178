// Doctor's view of the secrets themselves: which ones you may read, and which have expired or are due for rotation.
// Rules: names and dates only, never a value; an expired secret is a failure, one due for rotation a warning.

import type { SecretInfo } from "../store/document.js";
import { attention, describeAttention } from "../store/expiry.js";
import { fail, ok, shellQuote, warn, type Finding } from "./finding.js";

const LISTED = 8;

/** Returns "N secrets: A, B, …" for a finding's text. */
export function describeNames(secrets: SecretInfo[]): string {
  const names = secrets.map((s) => s.name);
  const shown = names.slice(0, LISTED).join(", ");
  const more = names.length > LISTED ? `, … (${names.length - LISTED} more)` : "";
  return `${names.length} secret${names.length === 1 ? "" : "s"}${names.length > 0 ? `: ${shown}${more}` : ""}`;
}

/**
 * Returns one finding per secret past its expiry date (fail) or due for rotation (warn) at `now`, each fixed by
 * replacing its value; or a single ok when none is. `where` is the flag that selects the store, for the fix.
 */
export function expiryFindings(secrets: SecretInfo[], now: Date, where = ""): Finding[] {
  const findings: Finding[] = [];
  for (const s of secrets) {
    const a = attention(s, now);
    if (a === undefined) continue;
    const fix = `secretfile add --replace${where === "" ? "" : ` ${where}`} ${shellQuote(s.name)}`;
    const text = `${describeAttention(s.name, a)}: replace its value (add --replace asks for it, or reads it from standard input)`;
    findings.push(a.status === "expired" ? fail(text, fix) : warn(text, fix));
  }
  if (findings.length === 0 && secrets.length > 0) findings.push(ok(`no secret has expired or is due for rotation`));
  return findings;
}
