// `secretfile accept-store`: take the store on disk as the newest served, even an older or forked one.
// Rules: says what it accepted and what it replaced; through the agent root only, audited there.

import type { Command } from "commander";
import { shortHash, type StoreFacts } from "../../store/generation.js";
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

/** Returns "generation N (sha256 SHORT), written by KEY at TIME" for a store's facts. */
export function describeFacts(facts: StoreFacts): string {
  const by = facts.writtenBy === undefined ? "" : `, written by ${facts.writtenBy} at ${facts.writtenAt ?? "?"}`;
  return `generation ${facts.generation} (sha256 ${shortHash(facts.hash)})${by}`;
}
