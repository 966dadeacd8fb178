// The signals `exec` takes over while it runs a job: every catchable signal whose default would end secretfile (and
// leave the job and its --file folder behind), and SIGWINCH. Rules: once caught, a signal stays caught until the
// process ends (Node cannot put back what it had: removing the listener leaves the default, which ends the process);
// one arriving before a job is routed is held for it; once the job is over, it is dropped.

import os from "node:os";

/**
 * The catchable signals whose default action ends the process (Linux's list; elsewhere, those of it the platform has:
 * node:os is loaded for that only off Linux, where it would cost every `exec` about 0.2 ms). Left out:
 * the faults a program raises on itself (ILL, TRAP, ABRT, BUS, FPE, SEGV, SYS), which Node cannot handle safely;
 * and the real-time signals, which Node cannot name. The job is killed with secretfile then by PR_SET_PDEATHSIG.
 * (SIGUSR1 is one of them: listening to it also keeps Node's inspector from opening on it.)
 */
const LINUX_TERMINATING: readonly NodeJS.Signals[] = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGUSR1",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGVTALRM",
  "SIGPROF",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGIO",
  "SIGPWR",
  "SIGSTKFLT",
];
export const TERMINATING_SIGNALS: NodeJS.Signals[] =
  process.platform === "linux" ? [...LINUX_TERMINATING] : LINUX_TERMINATING.filter((s) => s in os.constants.signals);

/** The signals passed on to the job: the terminating ones, and a change of the terminal's size. */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = [...TERMINATING_SIGNALS, "SIGWINCH"];

let caught = false;
let route: ((signal: NodeJS.Signals) => void) | undefined;
const held: NodeJS.Signals[] = [];

/**
 * From now until the process ends, every signal of FORWARDED_SIGNALS comes here instead of its default action: it is
 * held until `routeSignals` names where it goes. Idempotent.
 */
export function catchSignals(): void {
  if (caught) return;
  caught = true;
  for (const signal of FORWARDED_SIGNALS) {
    process.on(signal, () => {
      if (route !== undefined) route(signal);
      else if (held.length < 64) held.push(signal);
    });
  }
}

/**
 * Sends every signal caught from now on to `to`, the ones held so far first; returns the function that stops it
 * (later signals are dropped: there is no job left to pass them to). Catches the signals if not done yet.
 */
export function routeSignals(to: (signal: NodeJS.Signals) => void): () => void {
  catchSignals();
  route = to;
  for (const signal of held.splice(0)) to(signal);
  return () => {
    if (route === to) route = ignore;
  };
}

/** The route once a job is over. */
const ignore = () => undefined;
