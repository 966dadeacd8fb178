// `secretfile add NAME`: a value from standard input or a hidden prompt, never from argv.
// Rules: every check that can refuse (name, reserved name, description, an existing name on a terminal) comes before
// the value is asked for.

import type { Command } from "commander";
import { parseRotateEvery } from "../../store/expiry.js";
import { checkDescription, checkExpires, checkName } from "../../store/names.js";
import { existsError } from "../../store/operations.js";
import { checkWritableName } from "../../store/reserved-names.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";
import { note } from "../report.js";
import { readValue } from "../value-input.js";

/** Registers `add`. */
export function register(program: Command): void {
  withWhere(program.command("add"))
    .description("add a secret; the value comes from standard input or a hidden prompt")
    .argument("<NAME>", "the secret's name, e.g. MERAKI_API_KEY")
    .option("--replace", "replace the value if NAME exists")
    .option("--description <text>", "what the secret is for")
    .option("--expires <date>", "when the secret expires, e.g. 2027-03-31")
    .option("--rotate-every <period>", "how often the value should change, e.g. 90d or 12w (exec warns when it is due)")
    .action(
      async (
        name: string,
        opts: WhereOptions & { replace?: boolean; description?: string; expires?: string; rotateEvery?: string },
      ) => {
        checkWritableName(checkName(name));
        const description = opts.description === undefined ? undefined : checkDescription(opts.description);
        const expires = opts.expires === undefined ? undefined : checkExpires(opts.expires);
        const rotateEvery = opts.rotateEvery === undefined ? undefined : parseRotateEvery(opts.rotateEvery);
        const backend = await backendOf(opts);
        // On a terminal, refuse before the value is typed, not after.
        if (opts.replace !== true && process.stdin.isTTY) {
          const file = await backend.holder(name);
          if (file !== undefined) throw existsError(name, file);
        }
        const value = await readValue(name);
        await backend.add(name, value, { replace: opts.replace === true, description, expires, rotateEvery });
        note(`${opts.replace ? "stored" : "added"} ${name}`);
      },
    );
}
