// `secretfile export --recipient R`: an age file of the whole store, for a migration or a backup.
// Rules: never plaintext on disk; never overwrites a file; never writes the age file to a terminal.

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";
import { openStoreFolder } from "../store-folder.js";

/** Registers `export`. */
export function register(program: Command): void {
  withWhere(program.command("export"))
    .description("write the whole store as an age file encrypted to --recipient only (stdout, or --output FILE)")
    .requiredOption(
      "--recipient <age1…>",
      "an age public key to encrypt to (repeat for several)",
      (r: string, all?: string[]) => [...(all ?? []), r],
    )
    .option("--output <file>", "write to a new file (never overwritten) instead of standard output")
    .action(async (opts: WhereOptions & { recipient: string[]; output?: string }) => {
      if (opts.output === undefined && process.stdout.isTTY) {
        throw new UsageError("refusing to write an age file to the terminal", {
          hint: "pass --output FILE, or redirect: secretfile export --recipient R > FILE",
        });
      }
      const store = await openStoreFolder(opts, "export");
      const { exportStore } = await import("../../store/export.js");
      const { createExclusive } = await import("../../store/files.js");
      const out = await exportStore(store, opts.recipient);
      const what = `${out.secrets} secret${out.secrets === 1 ? "" : "s"} encrypted to ${opts.recipient.length} recipient${opts.recipient.length === 1 ? "" : "s"}`;
      if (opts.output !== undefined) {
        await createExclusive(opts.output, out.bytes, 0o600, "export file");
        note(`wrote ${opts.output}: ${what}; \`age -d -i IDENTITY ${opts.output}\` opens it`);
        return;
      }
      await new Promise<void>((resolve, reject) =>
        process.stdout.write(out.bytes, (err) => (err ? reject(err) : resolve())),
      );
      note(`exported ${what}`);
    });
}
