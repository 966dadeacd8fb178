// `secretfile exec -- COMMAND…`: run a job with the secrets it asks for in its environment.
// Rules: with no key set the job gets the caller's own store (personal) or the names the policy writes out for it (the
// agent), never a glob's; --only/--map/--env-file/--file give the job exactly what they name, and a missing or refused name stops the
// job before it starts; an expired or overdue key, or a secret held back (a reserved name, a variable the job has
// already), is a warning line on stderr, and the job still runs.

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { readEnvFile } from "../../exec/env-file.js";
import { dialectOf } from "../../store/dotenv-dialects.js";
import { buildKeySet, implicitVariables, keySetVariables } from "../../exec/keyset.js";
import { maskOnDemand, runJob } from "../../exec/run.js";
import { withSecretFiles } from "../../exec/secret-files.js";
import { describeAttention } from "../../store/expiry.js";
import { EXEC_OPTIONS } from "../forms.js";
import { backendOf, nameList, withOptions, withWhere, type WhereOptions } from "../options.js";
import { warn } from "../report.js";

/** The options of `exec`, as commander (or the small entry) gives them. */
export interface ExecOptions extends WhereOptions {
  only?: string;
  map?: string[];
  envFile?: string[];
  dialect?: string;
  file?: string[];
  render?: string[];
  mask: boolean;
}

/** Registers `exec`. */
export function register(program: Command): void {
  withOptions(withWhere(program.command("exec")), EXEC_OPTIONS)
    .description("run COMMAND with the secrets it names (or the policy names for you) in its environment")
    .usage("[options] -- COMMAND [ARG...]")
    .argument("<COMMAND...>", "the job and its arguments")
    .passThroughOptions()
    .action(execAction);
}

/**
 * Runs `exec -- COMMAND…` (for the full CLI and the small entry, src/cli/hot.ts) and sets process.exitCode to the
 * job's status. Throws UsageError (2), the backend's and the job's start errors.
 */
export async function execAction(argv: string[], opts: ExecOptions): Promise<void> {
  const only = opts.only === undefined ? undefined : nameList(opts.only);
  if (only !== undefined && only.length === 0) throw new UsageError("--only needs at least one name");
  const dialect = dialectOf(opts.dialect);
  if (dialect !== undefined && opts.envFile === undefined)
    throw new UsageError("--dialect says how --env-file is read, and no --env-file is given");
  const set = buildKeySet({
    only,
    map: opts.map,
    envFiles: opts.envFile?.map((file) => ({ file, entries: readEnvFile(file, dialect, process.env) })),
    files: opts.file,
  });
  // --render selects like --file: the job gets what is named and the rendered files, not every readable secret. Its
  // code (which writes files, and so loads node:crypto) only when asked for.
  const render =
    opts.render !== undefined && opts.render.length > 0 ? await import("../../render/exec-render.js") : undefined;
  const { renders, names: rendered } =
    render === undefined ? { renders: [], names: [] } : await render.loadRenders(opts.render!);
  const selected = set ?? (renders.length > 0 ? { names: [], files: [], bindings: [] } : undefined);
  render?.checkRenderVariables(renders, selected?.bindings ?? []);
  const asked = selected === undefined ? undefined : [...new Set([...selected.names, ...rendered])];
  const { values, expiring, missing } =
    asked !== undefined && asked.length === 0
      ? { values: new Map<string, string>(), expiring: {} }
      : await (await backendOf(opts)).values(asked);
  for (const name of missing ?? [])
    warn(`${name} is not given to the job: the policy names it for you, but the store has none`);
  for (const name of Object.keys(expiring).sort()) if (values.has(name)) warn(describeAttention(name, expiring[name]!));
  // Asked for nothing: what the job is given is decided (and masked) before it starts; a value held back is not masked.
  const implicit = selected === undefined ? givenImplicitly(values) : undefined;
  const mask = opts.mask ? maskOnDemand(implicit ?? values) : undefined;
  const fileSecrets = new Map([
    ...(selected?.files ?? []).map((name): [string, string] => [name, values.get(name)!]),
    ...(render?.renderedFiles(renders, values) ?? []),
  ]);
  process.exitCode = await withSecretFiles(fileSecrets, process.env, (paths) => {
    const variables =
      implicit ??
      new Map([...keySetVariables(selected!, values, paths), ...(render?.renderVariables(renders, paths) ?? [])]);
    // COMMAND is found with our own PATH, before any secret is laid over the job's environment.
    return runJob(argv, { base: process.env, secrets: variables }, { searchPath: process.env.PATH, mask });
  });
}

/** Returns what the job gets of `values` when nothing selects secrets; warns, naming each secret held back. */
function givenImplicitly(values: Map<string, string>): Map<string, string> {
  const { variables, withheld } = implicitVariables(values, process.env);
  for (const w of withheld) warn(`${w.name} is not given to the job: ${w.why}`);
  return variables;
}
