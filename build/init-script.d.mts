// Types of build/init-script.mjs for the tests that render the init script themselves.

/** Where the package's init script keeps the agent's pid and messages. */
export const INIT_SCRIPT_FILES: { pidfile: string; log: string };

/** What the init script is rendered with. */
export interface InitScriptValues {
  node: string;
  nodeFlags: readonly string[];
  launcher: string;
  user: string;
  paths: { dir: string; socket: string; policy: string; audit: string };
  pidfile: string;
  log: string;
  version: string;
}

/** Returns the init script of `template` with `values` filled in. Throws when a placeholder is left without a value. */
export function renderInitScript(template: string, values: InitScriptValues): string;
