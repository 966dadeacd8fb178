// The extra recipients a store is encrypted to, as the store's own document lists them (the list that counts).
// Rules: a label is a short word an admin recognizes; a recipient is an age public key; labels and keys are unique.

import { UsageError } from "../errors.js";

/** One extra recipient: an age public key, the label an admin gave it, and when it was added (ISO 8601). */
export interface RecipientEntry {
  recipient: string;
  label: string;
  added: string;
}

const LABEL = /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$/;
const RECIPIENT = /^age1[0-9a-z]{20,}$/;

/** True when `label` may label a recipient. */
export function isValidLabel(label: string): boolean {
  return LABEL.test(label);
}

/** Returns `label`; throws UsageError (exit 2) when it is not a valid label. */
export function checkLabel(label: string): string {
  if (!isValidLabel(label)) {
    throw new UsageError(`invalid recipient label ${JSON.stringify(label.slice(0, 70))}`, {
      hint: "a label is letters, digits and _ . @ + -, starting with a letter or digit, at most 64 characters (e.g. recovery-2026 or host-web2)",
    });
  }
  return label;
}

/** True when `recipient` looks like an age public key (crypto.ts checks that it really is one). */
export function looksLikeRecipient(recipient: string): boolean {
  return RECIPIENT.test(recipient);
}

/** True when `list` is a well-formed list of entries with unique labels and recipients (the document's check). */
export function isRecipientList(list: unknown): list is RecipientEntry[] {
  if (!Array.isArray(list)) return false;
  const labels = new Set<string>();
  const keys = new Set<string>();
  for (const e of list as unknown[]) {
    if (typeof e !== "object" || e === null) return false;
    const { recipient, label, added } = e as Record<string, unknown>;
    if (typeof recipient !== "string" || !looksLikeRecipient(recipient)) return false;
    if (typeof label !== "string" || !isValidLabel(label) || typeof added !== "string") return false;
    if (labels.has(label) || keys.has(recipient)) return false;
    labels.add(label);
    keys.add(recipient);
  }
  return true;
}
