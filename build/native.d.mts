// Types of build/native.mjs for the tests that build the addon themselves (test/native/sanitizer.test.ts).

/** Returns the compiler's arguments that build the addon into `out` (`flags` replacing -O2). Throws without headers. */
export function nativeArgs(out: string, flags?: string[]): string[];
/** Builds dist/native.node; returns whether it was made. */
export function buildNative(): boolean;
