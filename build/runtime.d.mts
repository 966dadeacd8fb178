// Types of build/runtime.mjs for the tests that run the Debian package's runtime (test/helpers/runtime.ts).

/** Returns the pinned runtime for the Debian architecture `arch`: its npm package, exact version and binary's sha256. */
export function pinnedRuntime(arch?: string): { name: string; version: string; sha256: string };
/** Returns the checked node binary of the pinned runtime and its version (v24.1.0). Throws, saying what to run. */
export function bundledRuntime(arch?: string): { node: string; version: string };
