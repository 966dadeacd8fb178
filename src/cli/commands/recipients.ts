// `secretfile recipients add|ls|rm`: the extra keys the store is encrypted to (recovery keys, other hosts).

import type { Command } from "commander";
import { jsonText } from "../escape.js";
import { withWhere, type WhereOptions } from "../options.js";
import { note, warn } from "../report.js";
import { lockNotes, openStoreFolder } from "../store-folder.js";
import { formatTable } from "../table.js";

/** Registers `recipients` and its subcommands. */
export function register(program: Command): void {
  const recipients = program
    .command("recipients")
    .description("the extra keys the store is encrypted to: recovery keys, other hosts of a fleet");
  withWhere(recipients.command("add"))
    .description("encrypt the store to one more age public key as well, at once")
    .argument("<RECIPIENT>", "an age public key (age1…), e.g. from `age-keygen -y` or `secretfile recipient`")
    .requiredOption("--label <text>", "a name for it, e.g. recovery-2026 or host-web2")
    .action(async (recipient: string, opts: WhereOptions & { label: string }) => {
      const store = await openStoreFolder(opts, "recipients add");
      const { addRecipient, mirrorPath } = await import("../../store/recipients.js");
      const keys = await store.update((doc) => {
        addRecipient(doc, recipient, opts.label);
        return new Set([store.identity.recipient, ...doc.recipients!.map((e) => e.recipient)]).size;
      }, lockNotes);
      const own = recipient === store.identity.recipient;
      if (store.identity.recipient.startsWith("age1pq1") && !recipient.startsWith("age1pq1")) {
        warn(
          `the host key is post-quantum but ${opts.label} is not: the store is now only as strong as ${opts.label}'s X25519 against a future quantum computer`,
        );
      }
      note(
        own
          ? `added ${opts.label}: this host's own key, so other hosts that share the store encrypt to it too; the list is in ${mirrorPath(store.paths.store)}`
          : `added ${opts.label}: ${store.paths.store} is now encrypted to it as well (${keys} keys in all); the list is in ${mirrorPath(store.paths.store)}`,
      );
    });
  withWhere(recipients.command("ls"))
    .description("list the extra keys (the list inside the store, checked against recipients.txt)")
    .option("--json", "print a JSON array")
    .action(async (opts: WhereOptions & { json?: boolean }) => {
      const store = await openStoreFolder(opts, "recipients ls");
      const list = (await store.locked((tx) => tx.read(), lockNotes)).recipients ?? [];
      if (opts.json) {
        process.stdout.write(`${jsonText(list, 2)}\n`);
        return;
      }
      note(
        `${store.paths.store} is encrypted to this host's key ${store.identity.recipient}${list.length === 0 ? " only" : " and to:"}`,
      );
      if (list.length === 0) return;
      process.stdout.write(
        formatTable([
          ["LABEL", "ADDED", "RECIPIENT"],
          ...list.map((e) => [e.label, e.added.slice(0, 10), e.recipient]),
        ]),
      );
    });
  withWhere(recipients.command("rm"))
    .description("stop encrypting the store to a key, at once")
    .argument("<LABEL>", "the label `recipients ls` shows")
    .action(async (label: string, opts: WhereOptions) => {
      const store = await openStoreFolder(opts, "recipients rm");
      const { removeRecipient } = await import("../../store/recipients.js");
      await store.update((doc) => removeRecipient(doc, label, store.paths.store), lockNotes);
      note(`removed ${label}: ${store.paths.store} was encrypted again without it`);
      note(
        `copies written before (backups, other hosts, git history) still open with it: rotate the secrets if the key was lost`,
      );
    });
}
