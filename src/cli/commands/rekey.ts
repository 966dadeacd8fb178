// `secretfile rekey [--finish]`: a new host identity; the old one kept as identity.txt.old until `--finish`.

import type { Command } from "commander";
import { withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";
import { lockNotes, openStoreFolder } from "../store-folder.js";

/** Registers `rekey`. */
export function register(program: Command): void {
  withWhere(program.command("rekey"))
    .description(
      "replace the host identity: the store is encrypted to a new one, the old one kept as identity.txt.old until --finish",
    )
    .option("--finish", "re-encrypt without the old identity and remove identity.txt.old")
    .option("--pq", "make the new identity post-quantum hybrid (ML-KEM-768 + X25519)")
    .action(async (opts: WhereOptions & { finish?: boolean; pq?: boolean }) => {
      const store = await openStoreFolder(opts, opts.finish ? "rekey --finish" : "rekey");
      const { finishRekey, rekey } = await import("../../store/rekey.js");
      if (opts.finish) {
        const done = await finishRekey(store, { lock: lockNotes });
        note(
          done.removed === undefined
            ? `no rekey was waiting; ${store.paths.store} was written again to ${done.recipient}`
            : `removed ${done.removed}; ${store.paths.store} is encrypted to ${done.recipient} only (and its listed recipients)`,
        );
        return;
      }
      const done = await rekey(store, { pq: opts.pq === true ? true : undefined, lock: lockNotes });
      note(
        `${done.resumed ? "completed an interrupted rekey: " : ""}${store.paths.identity} is a new identity (public key ${done.recipient})`,
      );
      note(
        `the previous identity (${done.previous}) is kept in ${done.oldFile}, and ${store.paths.store} opens with either`,
      );
      note(
        `back up ${store.paths.identity}; hosts and recipients lists that name the old key need the new one; then run \`secretfile rekey --finish\``,
      );
    });
}
