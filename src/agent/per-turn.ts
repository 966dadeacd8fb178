// Sharing one answer among the requests of an event-loop turn: the agent looks at a file's stamp at most once a turn.
// Rules: a request never gets an answer older than the turn it was read in; a failed look is never kept.

/** A function whose result is shared until the end of the event-loop turn in which it settled. */
export interface PerTurn<T> {
  (): Promise<T>;
  /** Drops the shared result (after a change the caller made itself), so the next call looks again. */
  forget(): void;
}

/**
 * Returns `look` shared per turn: the first call of a turn runs it, later calls in the same turn (and calls made
 * while it runs) get the same promise; the turn's check phase (setImmediate) drops it. A rejection is not shared
 * past its own callers.
 */
export function perTurn<T>(look: () => Promise<T>): PerTurn<T> {
  let shared: Promise<T> | undefined;
  const get = (() => {
    if (shared !== undefined) return shared;
    const p = look();
    shared = p;
    const drop = () => {
      if (shared === p) shared = undefined;
    };
    p.then(() => setImmediate(drop), drop);
    return p;
  }) as PerTurn<T>;
  get.forget = () => {
    shared = undefined;
  };
  return get;
}
