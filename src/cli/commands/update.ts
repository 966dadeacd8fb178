// `secretfile update NAME`: change a secret's description, expiry or rotation period, never its value.
// Rules: no value is asked for or read (standard input is left alone, there is no prompt); every check that can refuse
// (name, reserved name, a change with nothing in it, a bad date, period or description) comes before the store is opened.

import type { Command } from "commander";
import { parseRotateEvery } from "../../store/expiry.js";
import { checkName } from "../../store/names.js";
import { checkMetadataChange, describeMetadataChange, type MetadataChange } from "../../store/operations.js";
import { checkWritableName } from "../../store/reserved-names.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";

/** The word that clears an expiry or a rotation period. */
const NEVER = "never";

/** Registers `update`. */
export function register(program: Command): void {
  withWhere(program.command("update"))
    .description("change a secret's description, expiry or rotation period; never its value")
    .argument("<NAME>", "the secret's name")
    .option("--description <text>", 'what the secret is for ("" clears it)')
    .option("--expires <date>", "when the secret expires, e.g. 2027-03-31, or never")
    .option("--rotate-every <period>", "how often the value should change, e.g. 90d or 12w, or never")
    .action(
      async (name: string, opts: WhereOptions & { description?: string; expires?: string; rotateEvery?: string }) => {
        checkWritableName(checkName(name));
        const asked: MetadataChange = {
          description: opts.description,
          expires: opts.expires === NEVER ? null : opts.expires,
          rotateEvery:
            opts.rotateEvery === undefined
              ? undefined
              : opts.rotateEvery === NEVER
                ? null
                : parseRotateEvery(opts.rotateEvery),
        };
        const change = checkMetadataChange(name, asked);
        await (await backendOf(opts)).update(name, change);
        note(`updated ${name}: ${describeMetadataChange(change)}; its value is unchanged`);
      },
    );
}
