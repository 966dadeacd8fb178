// `secretfile init`: a personal identity and an empty store.

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { whereOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

/** Registers `init`. */
export function register(program: Command): void {
  withWhere(program.command("init"))
    .description("create a personal identity and an empty store")
    .option("--pq", "use a post-quantum hybrid (ML-KEM-768 + X25519) identity")
    .action(async (opts: WhereOptions & { pq?: boolean }) => {
      const where = whereOf(opts);
      if (where.mode !== "personal") {
        throw new UsageError(`init creates a personal store, but ${where.why}`, {
          hint: "pass --dir DIR, or use `sudo secretfile setup` for system mode",
        });
      }
      const { Store, storePaths } = await import("../../store/store.js");
      const store = await Store.create(storePaths(where.dir), { pq: opts.pq === true });
      note(`created ${store.paths.identity} (public key ${store.identity.recipient})`);
      note(`created an empty store ${store.paths.store}`);
      note(`back up ${store.paths.identity}: without it the store cannot be decrypted`);
    });
}
