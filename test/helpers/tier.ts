// The two test tiers and the one place the slow suites take their scale from: `npm test` runs the fast tier,
// `npm run test:all` (SECRETFILE_TEST_TIER=all) everything at the scale docs/hardening.md reports.
// Rules: a variable a suite already had (SECRETFILE_FUZZ_REQUESTS, SECRETFILE_FAULTS_LOAD_SECONDS, …) wins over the tier.

/** True when the whole suite runs (`npm run test:all`), false in the fast tier (`npm test`). */
export const ALL = process.env.SECRETFILE_TEST_TIER === "all";

/**
 * Returns the scale of one loop: `all` in the whole suite, `fast` in the fast tier; a positive number in the
 * environment variable `name`, when set, wins over both.
 */
export function scale(name: string, fast: number, all: number): number {
  const n = Number(process.env[name]);
  return Number.isFinite(n) && n > 0 ? n : ALL ? all : fast;
}

/** The kill rounds of a fault suite: `all` (times SECRETFILE_FAULTS_SCALE) in the whole suite, `fast` otherwise. */
export function killRounds(fast: number, all: number): number {
  return ALL ? Math.round(all * scale("SECRETFILE_FAULTS_SCALE", 1, 1)) : fast;
}

/**
 * Returns every row of a table of cases in the whole suite; in the fast tier, the first row of each kind `kindOf`
 * names, so that every kind still runs once.
 */
export function oneOfEach<T>(rows: readonly T[], kindOf: (row: T) => string): T[] {
  if (ALL) return [...rows];
  const seen = new Set<string>();
  return rows.filter((row) => {
    const kind = kindOf(row);
    if (seen.has(kind)) return false;
    seen.add(kind);
    return true;
  });
}
