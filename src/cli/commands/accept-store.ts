// `secretfile accept-store`: take the store on disk as the newest served, even an older or forked one.
// Rules: says what it accepted and what it replaced; through the agent root only, audited there.

import type { Command } from "commander";
import { describeFacts, shortHash } from "../../store/generation.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

/** Registers `accept-store`. */
export function register(program: Command): void {
  withWhere(program.command("accept-store"))
    .description(
      "take the store on disk as the newest served, even when it is older than or a fork of the one this host served (root, audited)",
    )
    .action(async (opts: WhereOptions) => {
      const { facts, previous } = await (await backendOf(opts)).acceptStore();
      note(`accepted the store: ${describeFacts(facts)}`);
      note(
        previous === null
          ? "previous: none recorded"
          : `previous: generation ${previous.generation} (sha256 ${shortHash(previous.hash)})`,
      );
    });
}
