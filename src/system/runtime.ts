// The Node.js release lines: when each one stops getting fixes, and what a given Node can be started with.
// Rules: the one table of release lines (doctor, the package build and the tests read it); a line it does not hold is
// "unknown", never assumed supported. Update RELEASE_LINES from https://github.com/nodejs/Release (schedule.json)
// when a line is released or a date moves.

/**
 * The end of life of each release line (the last day it gets fixes, UTC), from the Node.js release schedule. A line
 * older than the first here ended before it. test/system/runtime.test.ts fails when the runtime the Debian package
 * pins (packaging/runtime/) is missing here or past its end.
 */
export const RELEASE_LINES: Readonly<Record<number, string>> = {
  18: "2025-04-30",
  19: "2023-06-01",
  20: "2026-04-30",
  21: "2024-06-01",
  22: "2027-04-30",
  23: "2025-06-01",
  24: "2028-04-30",
  25: "2026-06-01",
  26: "2029-04-30",
  27: "2030-04-30",
};

/** A Node version's release line, its end of life, and whether `today` is past it. */
export interface RuntimeSupport {
  /** The major version, e.g. 24. */
  line: number;
  /** The line's last day of fixes (YYYY-MM-DD), when the table knows it. */
  end: string | undefined;
  /** supported: before or on its end; ended: past it; unknown: a line newer than the table. */
  state: "supported" | "ended" | "unknown";
}

/** Returns the support of the Node `version` (as process.version: v24.1.0) on `today`. Never throws. */
export function runtimeSupport(version: string, today: Date): RuntimeSupport {
  const [line] = parseVersion(version);
  const end = RELEASE_LINES[line];
  const first = Math.min(...Object.keys(RELEASE_LINES).map(Number));
  if (end === undefined) return { line, end, state: line < first ? "ended" : "unknown" };
  return { line, end, state: today.toISOString().slice(0, 10) > end ? "ended" : "supported" };
}

/**
 * Returns true when the Node `version` has `--disable-sigusr1` (22.14, 23.7 and every line from 24): with it, SIGUSR1
 * never opens the inspector, from the process's first instruction on. Never throws.
 */
export function hasDisableSigusr1(version: string): boolean {
  const [major, minor] = parseVersion(version);
  return major >= 24 || (major === 23 && minor >= 7) || (major === 22 && minor >= 14);
}

/**
 * The flags to start the Node `version` with, besides a program's own: `--disable-sigusr1` where it has it (the
 * Debian package's launcher and units, and the units `secretfile setup` writes).
 */
export function runtimeFlags(version: string): string[] {
  return hasDisableSigusr1(version) ? ["--disable-sigusr1"] : [];
}

/** Returns the major and minor numbers of `version` (v24.1.0 or 24.1.0); NaN where it has none. */
function parseVersion(version: string): [number, number] {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m === null ? [Number.NaN, Number.NaN] : [Number(m[1]), Number(m[2])];
}
