// `secretfile recipient`: this store's public recipient (age1…), to add it to another host's store.

import type { Command } from "commander";
import { withWhere, type WhereOptions } from "../options.js";
import { openStoreFolder } from "../store-folder.js";

/** Registers `recipient`. */
export function register(program: Command): void {
  withWhere(program.command("recipient"))
    .description("print this store's public key (age1…), for `secretfile recipients add` on another host")
    .action(async (opts: WhereOptions) => {
      const store = await openStoreFolder(opts, "recipient");
      process.stdout.write(`${store.identity.recipient}\n`);
    });
}
