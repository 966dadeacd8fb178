// Interleaved timing: every round runs each command of a group once, in a fresh random order, so a noisy moment on
// a shared machine hits a command and its baseline alike. Rules: warm-up rounds are run and dropped; a command that
// fails is reported with its error and left out of later rounds, never timed as if it had worked.

import { pairedRatio, shuffled, summarize } from "./stats.mjs";
import { timeOnce } from "./procs.mjs";

/**
 * Runs `cmds` (each a Cmd, or { label, next() } returning a fresh Cmd per run) for `warmup` + `runs` rounds.
 * Returns { commands: { label: { ms: [...], summary } | { error } }, rounds } where ms[i] is round i's time.
 * `progress(text)` is told of each finished round.
 */
export function interleave(cmds, { warmup, runs, progress = () => undefined }) {
  const times = new Map(cmds.map((c) => [c.label, []]));
  const failed = new Map();
  for (let round = -warmup; round < runs; round++) {
    const live = cmds.filter((c) => !failed.has(c.label));
    if (live.length === 0) break;
    const took = new Map();
    for (const c of shuffled(live)) {
      try {
        took.set(c.label, timeOnce(c.next ? c.next() : c));
      } catch (err) {
        failed.set(c.label, err instanceof Error ? err.message : String(err));
      }
    }
    if (round < 0) continue;
    // A command that failed in this round has no time for it (nor for later rounds): its list stays a prefix.
    for (const [label, ms] of took) if (!failed.has(label)) times.get(label).push(ms);
    progress(`round ${round + 1}/${runs}`);
  }
  const commands = {};
  for (const c of cmds) {
    commands[c.label] = failed.has(c.label)
      ? { error: failed.get(c.label) }
      : { ms: times.get(c.label), summary: summarize(times.get(c.label)) };
  }
  return { commands, rounds: runs };
}

/**
 * Returns the paired ratio of `a` to `b` from an interleave() result: the summary of a[i]/b[i] over the rounds both
 * ran in, or { error } when either failed.
 */
export function ratioOf(result, a, b) {
  const ra = result.commands[a];
  const rb = result.commands[b];
  if (ra === undefined || rb === undefined) return { error: `no such command: ${ra === undefined ? a : b}` };
  if (ra.error || rb.error) return { error: ra.error ?? rb.error };
  const n = Math.min(ra.ms.length, rb.ms.length);
  // A command that failed part-way has fewer rounds; pair the first n (they ran in the same rounds).
  return pairedRatio(ra.ms.slice(0, n), rb.ms.slice(0, n));
}
