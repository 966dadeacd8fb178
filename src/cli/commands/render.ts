// `secretfile render TEMPLATE`: a config file with its secret references filled in, to standard output or --output.
// Rules: every name is resolved before anything is written (missing: 3, refused: 4, nothing written); values are read
// like any other read (the agent or a personal store).

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { DEFAULT_MODE, parseMode, readTemplate, writeRendered } from "../../render/output.js";
import { parseTemplate, renderTemplate } from "../../render/template.js";
import { writeFully } from "../../system/write-fd.js";
import { backendOf, withWhere, type WhereOptions } from "../options.js";

interface RenderOptions extends WhereOptions {
  output?: string;
  mode?: string;
}

/** Registers `render`. */
export function register(program: Command): void {
  withWhere(program.command("render"))
    .description("fill a template's ((secretfile:NAME)) references with the secrets' values (docs/render.md)")
    .argument("<TEMPLATE>", "the template file")
    .option("--output <file>", "write to this file atomically (mode 0600 unless --mode), instead of standard output")
    .option("--mode <octal>", "the mode of the --output file (default 0600)")
    .action(async (file: string, opts: RenderOptions) => {
      if (opts.mode !== undefined && opts.output === undefined)
        throw new UsageError("--mode goes with --output", { hint: "add --output FILE, or drop --mode" });
      const mode = opts.mode === undefined ? DEFAULT_MODE : parseMode(opts.mode);
      const template = parseTemplate(readTemplate(file), file);
      const values =
        template.names.length === 0
          ? new Map<string, string>()
          : (await (await backendOf(opts)).values(template.names)).values;
      const text = renderTemplate(template, values);
      if (opts.output !== undefined) await writeRendered(opts.output, text, mode);
      else writeFully(1, Buffer.from(text, "utf8"));
    });
}
