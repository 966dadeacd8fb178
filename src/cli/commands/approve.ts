// `secretfile approve ID [--force]`: agree to a pending change; the last approval its rules ask for applies it.
// Rules: exit 0 when the approval counts (applied or still waiting), 1 when the change is void (nothing applied).

import type { Command } from "commander";
import { FailureError } from "../../errors.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note, warn } from "../report.js";
import { checkId } from "./reject.js";

/** Registers `approve`. */
export function register(program: Command): void {
  withWhere(program.command("approve"))
    .description("approve a pending change (`secretfile pending` lists them); the last approval needed applies it")
    .argument("<ID>", "the pending change's id")
    .option("--force", "root only: apply it now without the approvals its rules ask for (audited as a bypass)")
    .action(async (id: string, opts: WhereOptions & { force?: boolean }) => {
      const done = await (await backendOf(opts)).approve(checkId(id), opts.force === true);
      if (done.state === "voided") {
        throw new FailureError(
          `change ${done.id} is void: ${done.reason ?? "the secret changed since the request"}; nothing was applied`,
          {
            hint: "the requester can ask for the change again",
          },
        );
      }
      if (!done.counted && done.state === "pending")
        note(`you had approved change ${done.id} already: an approval counts once`);
      if (done.state === "applied") {
        if (done.bypass === true)
          warn(`change ${done.id} applied without the approvals its rules ask for: audited as a bypass`);
        note(`change ${done.id} is applied`);
      } else {
        note(
          `approved change ${done.id}; it still needs ${done.needs.map((n) => `${n.missing} more of ${n.who.join(" ")}`).join(" and ")}`,
        );
      }
    });
}
