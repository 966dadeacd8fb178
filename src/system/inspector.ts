// Whether this process runs with Node's inspector, which lets anyone who reaches its port run code inside it.
// Rules: flags (argv and NODE_OPTIONS) are read as text, and the inspector's own state is asked through Node's binding
// (about 0.03 ms; `require("node:inspector")` costs about 1.8 ms and is only the fallback); never opens one.

import nodeModule from "node:module";

/** Node options that open an inspector, or set the port a later SIGUSR1 would open it on. */
const INSPECT_FLAG = /^--(inspect|inspect-brk|inspect-wait|inspect-port|debug-port|debug|debug-brk)(=|$)/;

/**
 * Returns why this process runs, or could come to run, with an inspector: the flag among `execArgv` or NODE_OPTIONS
 * in `env`, or the address of one opened since it started (a SIGUSR1 before the launcher's listener was installed).
 * Returns undefined when there is none. Never throws.
 */
export function inspectorInUse(
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
  url: () => string | undefined = openInspector,
): string | undefined {
  const flag = execArgv.find((arg) => INSPECT_FLAG.test(arg));
  if (flag !== undefined) return `node was started with ${flag.split("=")[0]}`;
  const option = (env.NODE_OPTIONS ?? "")
    .split(/\s+/)
    .map((w) => w.replace(/^["']|["']$/g, ""))
    .find((w) => INSPECT_FLAG.test(w));
  if (option !== undefined) return `NODE_OPTIONS holds ${option.split("=")[0]}`;
  const open = url();
  return open === undefined ? undefined : `Node's inspector is open (${open.replace(/\/[^/]*$/, "")})`;
}

/** Returns the address of the open inspector, or undefined. Never throws. */
function openInspector(): string | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): { url(): string | undefined } }).binding(
      "inspector",
    );
    return binding.url() ?? undefined;
  } catch {
    try {
      return (nodeModule.createRequire(import.meta.url)("node:inspector") as typeof import("node:inspector")).url();
    } catch {
      return undefined;
    }
  }
}
