// The extra recipients of a store: changing the list inside the document, and its mirror recipients.txt beside the store.
// Rules: the list inside the encrypted store is the one encryption uses; recipients.txt (age's recipients-file format) must
// agree with it, or every write is refused (exit 5), so a key slipped into the file is noticed, never encrypted to.

import { promises as fs } from "node:fs";
import path from "node:path";
import { CorruptError, ExistsError, FailureError, NotFoundError } from "../errors.js";
import { replaceFile } from "./atomic.js";
import { checkRecipient } from "./crypto.js";
import type { StoreDocument } from "./document.js";
import { readPrivateFile } from "./files.js";
import { checkLabel, type RecipientEntry } from "./recipient-entry.js";

/** The mirror's file name, in the store's folder. */
export const RECIPIENTS_FILE = "recipients.txt";

/** Returns the path of the mirror beside `store`. */
export function mirrorPath(store: string): string {
  return path.join(path.dirname(store), RECIPIENTS_FILE);
}

/**
 * Adds `recipient` under `label` to `doc`'s list. The host's own key may be listed: in a fleet every host's key is, so
 * that each host encrypts to all the others. Throws UsageError (2) for a bad key or label, ExistsError (1) when the label
 * or the key is listed already.
 */
export function addRecipient(doc: StoreDocument, recipient: string, label: string): RecipientEntry {
  checkRecipient(recipient);
  checkLabel(label);
  const list = doc.recipients ?? [];
  const same = list.find((e) => e.label === label || e.recipient === recipient);
  if (same !== undefined) {
    throw new ExistsError(
      same.label === label
        ? `a recipient labelled ${label} is listed already`
        : `${recipient} is listed already, labelled ${same.label}`,
      {
        hint: `remove it first with \`secretfile recipients rm ${same.label}\`, or choose another label`,
      },
    );
  }
  const entry = { recipient, label, added: new Date().toISOString() };
  doc.recipients = [...list, entry];
  return entry;
}

/** Removes the recipient labelled `label` from `doc`; returns it. Throws NotFoundError (3) when no entry has that label. */
export function removeRecipient(doc: StoreDocument, label: string, file: string): RecipientEntry {
  const list = doc.recipients ?? [];
  const entry = list.find((e) => e.label === label);
  if (entry === undefined) {
    throw new NotFoundError(`no recipient labelled ${label} in ${file}`, {
      hint: "`secretfile recipients ls` lists the labels",
    });
  }
  doc.recipients = list.filter((e) => e !== entry);
  return entry;
}

/** Returns the mirror's text: age's recipients-file format, each key after a `# label:` comment. */
export function renderMirror(list: readonly RecipientEntry[], store: string): string {
  const head = [
    `# The extra recipients of ${store}: besides the host identity, the store is encrypted to each key below.`,
    "# A copy of the list kept inside the encrypted store, which is the one used; a difference stops every write.",
    "# Change it with `secretfile recipients add|rm`, never by hand. `age -R` reads this file as it is.",
  ];
  return [...head, ...list.flatMap((e) => [`# label: ${e.label} (added ${e.added})`, e.recipient])].join("\n") + "\n";
}

/** The pairs a mirror text lists, as "label recipient" strings (an unlabelled key has the label "?"). */
function pairsOf(text: string): Set<string> {
  const pairs = new Set<string>();
  let label = "?";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const m = /^#\s*label:\s*(\S+)/.exec(line);
    if (m !== null) label = m[1]!;
    else if (line !== "" && !line.startsWith("#")) {
      pairs.add(`${label} ${line}`);
      label = "?";
    }
  }
  return pairs;
}

const pairsOfList = (list: readonly RecipientEntry[]) => new Set(list.map((e) => `${e.label} ${e.recipient}`));

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** True when two lists hold the same labelled keys. */
export function sameList(a: readonly RecipientEntry[], b: readonly RecipientEntry[]): boolean {
  return sameSet(pairsOfList(a), pairsOfList(b));
}

const RULES = { what: "recipient list", forbiddenMode: 0o022, maxBytes: 1024 * 1024 };

/**
 * The mirror of one write, under the store's lock: checked against the document's list before the change, then
 * written when the list changed (or the file is missing). The new text goes first to `recipients.txt.next`, the store
 * is replaced, then the mirror; a crash in between leaves a `.next` that agrees with the store, which the next write
 * takes as the mirror.
 */
export class Mirror {
  private readonly store: string;
  private readonly file: string;
  private readonly next: string;
  private readonly missing: boolean;
  private readonly before: readonly RecipientEntry[];
  private pending: string | undefined;

  private constructor(store: string, before: readonly RecipientEntry[], missing: boolean) {
    this.store = store;
    this.file = mirrorPath(store);
    this.next = `${this.file}.next`;
    this.before = before;
    this.missing = missing;
  }

  /**
   * Checks recipients.txt beside `store` against `list` (the document's). A missing file is fine (it is written again);
   * one left by a crash is completed. Throws CorruptError (5) naming the keys that differ, AccessError (4) for an unsafe file.
   */
  static async check(store: string, list: readonly RecipientEntry[]): Promise<Mirror> {
    const file = mirrorPath(store);
    const text = await readPrivateFile(file, RULES);
    const want = pairsOfList(list);
    if (text === null || sameSet(pairsOf(text.toString("utf8")), want)) {
      await fs.rm(`${file}.next`, { force: true });
      return new Mirror(store, list, text === null);
    }
    const next = await readPrivateFile(`${file}.next`, RULES);
    if (next !== null && sameSet(pairsOf(next.toString("utf8")), want)) {
      // A write died between replacing the store and its mirror: finish it.
      await replaceFile(file, next, 0o600);
      await fs.rm(`${file}.next`, { force: true });
      return new Mirror(store, list, false);
    }
    const have = pairsOf(text.toString("utf8"));
    const extra = [...have].filter((p) => !want.has(p));
    const lacking = [...want].filter((p) => !have.has(p));
    const shown = (pairs: string[]) => pairs.map((p) => p.replace(/[^\x20-\x7e]/g, "?").slice(0, 120)).join(", ");
    const what = [
      extra.length ? `it lists ${shown(extra)}, which the store does not` : "",
      lacking.length ? `it lacks ${shown(lacking)}` : "",
    ];
    throw new CorruptError(
      `the recipient list ${file} does not match the list inside ${store}: ${what.filter(Boolean).join("; ")}`,
      {
        hint: `someone changed it outside secretfile; \`secretfile recipients ls\` shows the store's own list. Change the list with \`secretfile recipients add|rm\`; to put the file back as the store has it, remove ${file} (the next change writes it again)`,
      },
    );
  }

  /** Writes the new text to `recipients.txt.next` when `after` differs from the list checked (or the file was missing). */
  async prepare(after: readonly RecipientEntry[]): Promise<void> {
    if (!(this.missing ? after.length > 0 : !sameList(this.before, after))) return;
    this.pending = renderMirror(after, this.store);
    await replaceFile(this.next, new TextEncoder().encode(this.pending), 0o600);
  }

  /** After the store was replaced: puts the prepared text in place as recipients.txt. */
  async finish(): Promise<void> {
    if (this.pending === undefined) return;
    try {
      await replaceFile(this.file, new TextEncoder().encode(this.pending), 0o600);
    } catch (err) {
      if (!(err instanceof FailureError)) throw err;
      throw new FailureError(
        `${this.store} was written with its new recipient list, but ${this.file} was not: ${err.message}`,
        {
          hint: `${err.hint ?? "check the folder"}; the next change to the store completes ${this.file} from ${this.next}`,
          cause: err,
        },
      );
    }
    await fs.rm(this.next, { force: true });
  }
}
