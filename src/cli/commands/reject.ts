// `secretfile reject ID`: refuse a pending change; it is forgotten, never applied.

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { PENDING_ID } from "../../protocol/pending.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

/** Registers `reject`. */
export function register(program: Command): void {
  withWhere(program.command("reject"))
    .description("reject a pending change (its requester may withdraw it the same way); it is not applied")
    .argument("<ID>", "the pending change's id")
    .action(async (id: string, opts: WhereOptions) => {
      await (await backendOf(opts)).reject(checkId(id));
      note(`change ${id} is rejected: it will not be applied`);
    });
}

/** Returns `id` when it has the form of a pending change's id; throws UsageError (exit 2) otherwise. */
export function checkId(id: string): string {
  if (PENDING_ID.test(id)) return id;
  throw new UsageError(`invalid pending change id ${JSON.stringify(id.slice(0, 40))}`, {
    hint: "give the 12-digit id that `secretfile pending` lists",
  });
}
