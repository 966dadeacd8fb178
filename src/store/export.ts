// Exporting a store: the whole document encrypted to the recipients given, for a migration or a backup.
// Rules: the plaintext exists only in memory; the recipients are checked before anything is decrypted.

import { checkRecipient, encrypt } from "./crypto.js";
import { serializeDocument } from "./document.js";
import type { Store } from "./store.js";

/** Returns an age file of `store`'s document encrypted to `recipients` only. Throws UsageError (2) for a bad recipient. */
export async function exportStore(
  store: Store,
  recipients: readonly string[],
): Promise<{ bytes: Uint8Array; secrets: number }> {
  for (const r of recipients) checkRecipient(r);
  const doc = await store.read();
  return {
    bytes: await encrypt(serializeDocument(doc), [...new Set(recipients)]),
    secrets: Object.keys(doc.secrets).length,
  };
}
