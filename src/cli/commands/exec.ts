// `secretfile exec -- COMMAND…`: run a job with the secrets in its environment.

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { jobEnvironment } from "../../exec/environment.js";
import { maskPatterns } from "../../exec/mask.js";
import { runJob } from "../../exec/run.js";
import { checkName } from "../../store/names.js";
import { backendOf, nameList, withWhere, type WhereOptions } from "../options.js";

/** Registers `exec`. */
export function register(program: Command): void {
  withWhere(program.command("exec"))
    .description("run COMMAND with the secrets you may read in its environment")
    .usage("[options] -- COMMAND [ARG...]")
    .option("--only <names>", "only these secrets (comma-separated)")
    .option("--no-mask", "give the job the terminal directly: its output is not scanned for secret values")
    .argument("<COMMAND...>", "the job and its arguments")
    .passThroughOptions()
    .action(async (argv: string[], opts: WhereOptions & { only?: string; mask: boolean }) => {
      const only = opts.only === undefined ? undefined : nameList(opts.only).map(checkName);
      if (only !== undefined && only.length === 0) throw new UsageError("--only needs at least one name");
      const secrets = await (await backendOf(opts)).values(only);
      const mask = opts.mask ? maskPatterns(secrets) : undefined;
      process.exitCode = await runJob(argv, jobEnvironment(process.env, secrets), { mask });
    });
}
